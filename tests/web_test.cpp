// The web dashboard (docs/web.md): what it answers to each request, through
// its public handle(), over a real SQLite spool; and a real server on
// loopback, asked by a Beast client, for what only a socket shows.

#include "catch.hpp"
#include "support/dashboard_rig.hpp"
#include "support/fixtures.hpp"
#include "support/http_client.hpp"
#include "support/reports.hpp"
#include "support/temp_dir.hpp"

#include <spool/spool.hpp>
#include <spool/sqlite.hpp>
#include <spool/web.hpp>

#include <boost/asio/connect.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <sys/stat.h>

#include <fstream>
#include <string>
#include <thread>

namespace http = boost::beast::http;
using spool_test::dashboard_rig;
using spool_test::has;
using spool_test::text;

TEST_CASE("nothing but the sign-in is answered without a session: pages send to it, the API says 401") {
    dashboard_rig rig;
    const auto page = rig.get("/messages");
    CHECK(page.result() == http::status::see_other);
    CHECK(page[http::field::location] == "/login");
    const auto api = rig.get("/api/messages");
    CHECK(api.result() == http::status::unauthorized);
    CHECK(has(api.body(), "\"error\""));
    CHECK(rig.get("/login").result() == http::status::ok);
    rig.cookie = "not-a-session";
    CHECK(rig.get("/").result() == http::status::see_other);
}

TEST_CASE("every answer forbids inline script, framing and sniffing, and is not cached") {
    dashboard_rig rig;
    for (const auto& r : {rig.get("/login"), rig.get("/api/counts"), rig.get("/nowhere")}) {
        CHECK(has(std::string(r["Content-Security-Policy"]), "default-src 'none'"));
        CHECK(has(std::string(r["Content-Security-Policy"]), "frame-ancestors 'none'"));
        CHECK_FALSE(has(std::string(r["Content-Security-Policy"]), "unsafe-inline"));
        CHECK(r["X-Content-Type-Options"] == "nosniff");
        CHECK(r["Referrer-Policy"] == "same-origin");
        CHECK(r[http::field::cache_control] == "no-store");
    }
}

TEST_CASE("signing in gives a session cookie that scripts cannot read and other sites cannot send") {
    dashboard_rig rig;
    const auto wrong = rig.post("/login", "user=olga&password=guess");
    CHECK(wrong.result() == http::status::unauthorized);
    CHECK(wrong.count(http::field::set_cookie) == 0);
    const auto nobody = rig.post("/login", "user=nobody&password=guess");
    CHECK(nobody.result() == http::status::unauthorized);
    const auto malformed = rig.post("/login", "user=olga&password=%zz");
    CHECK(malformed.result() == http::status::bad_request);

    const auto right = rig.post("/login", "user=olga&password=operator+password");
    REQUIRE(right.result() == http::status::see_other);
    const std::string set = std::string(right[http::field::set_cookie]);
    CHECK(has(set, "; HttpOnly"));
    CHECK(has(set, "; Secure"));
    CHECK(has(set, "; SameSite=Strict"));
    CHECK(has(set, "; Path=/"));
    CHECK(has(set, "; Max-Age=28800"));
}

TEST_CASE("after three failed sign-ins from one address, the next waits, even with the right password") {
    dashboard_rig rig;
    for (int i = 0; i < 3; ++i) CHECK(rig.post("/login", "user=olga&password=guess" + std::to_string(i)).result() == http::status::unauthorized);
    const auto throttled = rig.post("/login", "user=olga&password=operator+password");
    CHECK(throttled.result() == http::status::too_many_requests);
    CHECK(std::stoi(std::string(throttled[http::field::retry_after])) >= 1);
    // Another user from another address is not held up by it.
    CHECK(rig.ask(http::verb::post, "/login", "user=rita&password=reader+password", "10.0.0.9").result() == http::status::see_other);
}

TEST_CASE("the overview counts the queue, and the messages page lists, filters and pages it") {
    spool::web_options small_pages;
    small_pages.page_size = 2;
    dashboard_rig rig(small_pages);
    const auto a = rig.queued("first"), b = rig.queued("second", "carl@c.test"), c = rig.queued("third");
    REQUIRE(rig.store.hold(c, std::chrono::system_clock::now()));
    rig.sign_in("rita", "reader password");

    const auto overview = rig.get("/");
    CHECK(overview.result() == http::status::ok);
    CHECK(has(overview.body(), "/messages?state=held\">1</a>"));
    CHECK(rig.get("/api/counts").body() == "{\"total\":3,\"due\":2,\"deferred\":0,\"held\":1,\"in_hand\":0,\"requested\":0,\"waiting\":0}\n");

    const auto first = rig.get("/messages");
    CHECK(has(first.body(), ">first<"));
    CHECK(has(first.body(), ">second<"));
    CHECK_FALSE(has(first.body(), ">third<"));
    CHECK(has(first.body(), "/messages?after=" + text(b) + "\">next page</a>"));
    CHECK(has(rig.get("/messages?after=" + text(b)).body(), ">third<"));

    const auto held = rig.get("/api/messages?state=held");
    CHECK(has(held.body(), "\"id\":" + text(c)));
    CHECK_FALSE(has(held.body(), "\"id\":" + text(a) + ","));
    CHECK(has(held.body(), "\"next_after\":null"));
    const auto by_domain = rig.get("/api/messages?domain=C.TEST");
    CHECK(has(by_domain.body(), "\"subject\":\"second\""));
    CHECK_FALSE(has(by_domain.body(), "\"subject\":\"first\""));
}

TEST_CASE("a malformed filter is a clear 400, never a listing of something else") {
    dashboard_rig rig;
    rig.sign_in("rita", "reader password");
    for (const std::string target : {"/messages?state=lost", "/messages?older_than=soon", "/messages?after=0", "/messages?colour=red",
                                     "/messages?state=due&state=held", "/messages?domain=%2"}) {
        const auto r = rig.get(target);
        INFO(target);
        CHECK(r.result() == http::status::bad_request);
        CHECK(has(r.body(), "class=\"error\""));
    }
    CHECK(has(rig.get("/api/messages?state=lost").body(), "\"error\":\"state is due, deferred, held, in_hand or waiting, not 'lost'\""));
}

TEST_CASE("a message's page shows its recipients, with every value escaped: a script in a subject is text") {
    dashboard_rig rig;
    const auto id = rig.queued("<script>alert(1)</script>", "\"><img src=x onerror=alert(2)>@b.test");
    rig.sign_in("rita", "reader password");
    const auto page = rig.get("/messages/" + text(id));
    CHECK(page.result() == http::status::ok);
    CHECK_FALSE(has(page.body(), "<script>"));
    CHECK_FALSE(has(page.body(), "<img"));
    CHECK(has(page.body(), "&lt;script&gt;alert(1)&lt;/script&gt;"));
    CHECK(has(page.body(), "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;@b.test"));
    const auto listed = rig.get("/messages");
    CHECK_FALSE(has(listed.body(), "<script>"));
    const auto api = rig.get("/api/messages/" + text(id));
    CHECK(has(api.body(), "\"subject\":\"\\u003cscript>alert(1)\\u003c/script>\""));
    CHECK(api[http::field::content_type] == "application/json");
}

TEST_CASE("an unknown id is 404, one not queued 409, and text that is not an id 400") {
    dashboard_rig rig;
    rig.sign_in("rita", "reader password");
    CHECK(rig.get("/messages/987654").result() == http::status::not_found);
    auto m = spool_test::from_ann({spool_test::smtp("bob@b.test")}, "a draft");
    const auto draft = rig.store.create(spool::folders::outbox, m).value();
    CHECK(rig.get("/messages/" + text(draft)).result() == http::status::conflict);
    CHECK(rig.get("/messages/seven").result() == http::status::bad_request);
    CHECK(rig.get("/api/messages/0").result() == http::status::bad_request);
    CHECK(rig.get("/nowhere").result() == http::status::not_found);
}

TEST_CASE("an operator holds and releases a message with the session's CSRF token") {
    dashboard_rig rig;
    const auto id = rig.queued("hold me");
    rig.sign_in("olga", "operator password");
    const auto page = rig.get("/messages/" + text(id));
    CHECK(has(page.body(), "/messages/" + text(id) + "/hold\""));
    const auto held = rig.post("/messages/" + text(id) + "/hold", "csrf=" + rig.csrf);
    CHECK(held.result() == http::status::ok);
    CHECK(has(held.body(), "hold of"));
    CHECK(rig.store.inspect(id, std::chrono::system_clock::now())->held);
    const auto released = rig.post("/api/messages/" + text(id) + "/release", "csrf=" + rig.csrf);
    CHECK(released.body() == "{\"id\":" + text(id) + ",\"operation\":\"release\",\"result\":\"applied\"}\n");
    CHECK_FALSE(rig.store.inspect(id, std::chrono::system_clock::now())->held);
    CHECK(rig.post("/messages/" + text(id) + "/explode", "csrf=" + rig.csrf).result() == http::status::not_found);
    CHECK(rig.post("/messages/" + text(id) + "/delete", "csrf=" + rig.csrf).result() == http::status::ok);
    CHECK(rig.store.inspect(id, std::chrono::system_clock::now()).error() == spool::errc::not_found); // deleted at once: no hand-off held it
}

TEST_CASE("an action without the CSRF token, from another site, or by GET changes nothing") {
    dashboard_rig rig;
    const auto id = rig.queued("keep me");
    rig.sign_in("olga", "operator password");
    const std::string hold = "/messages/" + text(id) + "/hold";
    CHECK(rig.post(hold, "").result() == http::status::forbidden);
    CHECK(rig.post(hold, "csrf=" + std::string(64, '0')).result() == http::status::forbidden);
    spool::web_request forged{http::verb::post, hold, 11};
    forged.set(http::field::host, "dashboard.test");
    forged.set(http::field::origin, "https://evil.test");
    forged.set(http::field::cookie, "spool_session=" + rig.cookie);
    forged.body() = "csrf=" + rig.csrf;
    forged.prepare_payload();
    CHECK(rig.web.handle(forged, "127.0.0.1").result() == http::status::forbidden);
    CHECK(rig.get(hold).result() == http::status::method_not_allowed);
    CHECK_FALSE(rig.store.inspect(id, std::chrono::system_clock::now())->held);
}

TEST_CASE("a reader sees no action buttons, and a reader's POST with a valid token is refused") {
    dashboard_rig rig;
    const auto id = rig.queued("look only");
    rig.sign_in("rita", "reader password");
    CHECK_FALSE(has(rig.get("/messages/" + text(id)).body(), "/hold\""));
    const auto refused = rig.post("/messages/" + text(id) + "/hold", "csrf=" + rig.csrf);
    CHECK(refused.result() == http::status::forbidden);
    CHECK_FALSE(rig.store.inspect(id, std::chrono::system_clock::now())->held);
}

TEST_CASE("signing out ends the session: its cookie opens nothing after") {
    dashboard_rig rig;
    rig.sign_in("olga", "operator password");
    CHECK(rig.post("/logout", "").result() == http::status::forbidden); // the token is needed here too
    const auto out = rig.post("/logout", "csrf=" + rig.csrf);
    CHECK(out.result() == http::status::see_other);
    CHECK(has(std::string(out[http::field::set_cookie]), "Max-Age=0"));
    CHECK(rig.get("/").result() == http::status::see_other);
}

TEST_CASE("behind a proxy under a base path, links, redirects and the cookie use it") {
    spool::web_options under;
    under.base_path = "/spool";
    dashboard_rig rig(under);
    CHECK(rig.get("/spool/messages")[http::field::location] == "/spool/login");
    CHECK(rig.get("/messages").result() == http::status::not_found);
    const auto in = rig.post("/spool/login", "user=olga&password=operator+password");
    CHECK(has(std::string(in[http::field::set_cookie]), "; Path=/spool;"));
    CHECK(in[http::field::location] == "/spool/");
}

TEST_CASE("users are kept hashed by yescrypt in a file only its owner reads, and read back") {
    spool_test::temp_dir dir;
    const std::string path = dir.file("users");
    spool::web_credentials c;
    c.set_user("olga", "secret one", spool::web_role::operator_);
    c.set_user("rita", "secret two", spool::web_role::reader);
    c.save(path);
    struct stat st{};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    std::ifstream in(path);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(has(text, "olga:operator:$y$"));
    CHECK_FALSE(has(text, "secret"));

    auto back = spool::web_credentials::load(path);
    CHECK(back.check("olga", "secret one") == spool::web_role::operator_);
    CHECK(back.check("rita", "secret two") == spool::web_role::reader);
    CHECK_FALSE(back.check("olga", "secret two"));
    CHECK_FALSE(back.check("nobody", "secret one"));
    CHECK(back.remove_user("rita"));
    CHECK_FALSE(back.remove_user("rita"));
    CHECK(spool::web_credentials::load(dir.file("none")).empty());
    CHECK_THROWS_AS(c.set_user("a:b", "x", spool::web_role::reader), std::invalid_argument);
    CHECK_THROWS_AS(c.set_user("ann", "", spool::web_role::reader), std::invalid_argument);

    std::ofstream(dir.file("bad")) << "olga:admin:$y$xyz\n";
    CHECK_THROWS_AS(spool::web_credentials::load(dir.file("bad")), spool::web_credentials_error);
}

namespace {
// A real server on loopback, on a port the system picks, run on its own thread.
struct served {
    dashboard_rig rig;
    boost::asio::io_context io;
    spool::web_server server{io, {boost::asio::ip::make_address("127.0.0.1"), 0},
                             [this](const spool::web_request& r, const std::string& a) { return rig.web.handle(r, a); }};
    std::thread runner{[this] { io.run(); }};
    ~served() {
        boost::asio::post(io, [this] { server.stop(); });
        io.stop();
        runner.join();
    }

    http::response<http::string_body> ask(spool::web_request r) { return spool_test::ask_http(server.endpoint(), std::move(r)); }
};
} // namespace

TEST_CASE("served on loopback, it answers over a socket, and refuses a body over its limit with 413") {
    served s;
    CHECK(s.server.endpoint().address().is_loopback());
    const auto page = s.ask({http::verb::get, "/login", 11});
    CHECK(page.result() == http::status::ok);
    CHECK(has(page.body(), "Sign in"));
    spool::web_request big{http::verb::post, "/login", 11};
    big.body() = "user=olga&password=" + std::string(100 * 1024, 'x');
    big.prepare_payload();
    CHECK(s.ask(big).result() == http::status::payload_too_large);
}

TEST_CASE("everything matching a filter is acted on after a confirmation that counts it, and only up to the id counted") {
    dashboard_rig rig;
    const auto a1 = rig.queued("one", "ann@a.test"), a2 = rig.queued("two", "amy@a.test");
    const auto other = rig.queued("three", "bob@b.test");
    rig.sign_in("olga", "operator password");
    CHECK(has(rig.get("/messages?domain=a.test").body(), "/messages/all/hold?domain=a.test\""));

    const auto confirm = rig.post("/messages/all/hold?domain=a.test", "csrf=" + rig.csrf);
    CHECK(confirm.result() == http::status::ok);
    CHECK(has(confirm.body(), "hold 2 messages matching domain=a.test?"));
    CHECK(has(confirm.body(), "name=\"up_to\" value=\"" + text(a2) + "\""));

    const auto late = rig.queued("four", "al@a.test"); // arrives between the count and the confirmation
    const auto done = rig.post("/messages/all/hold?domain=a.test", "csrf=" + rig.csrf + "&up_to=" + text(a2));
    CHECK(done.result() == http::status::ok);
    CHECK(has(done.body(), "hold: 2 done, 0 refused (no longer queued), 1 skipped (arrived after the count)."));
    const auto now = std::chrono::system_clock::now();
    CHECK(rig.store.inspect(a1, now)->held);
    CHECK(rig.store.inspect(a2, now)->held);
    CHECK_FALSE(rig.store.inspect(late, now)->held);
    CHECK_FALSE(rig.store.inspect(other, now)->held);

    // The same through the API: count, then act up to the id counted.
    const auto counted = rig.get("/api/messages/count?state=held");
    CHECK(counted.body() == "{\"count\":2,\"up_to\":" + text(a2) + "}\n");
    const auto released = rig.post("/api/messages/all/release?state=held", "csrf=" + rig.csrf + "&up_to=" + text(a2));
    CHECK(released.body() == "{\"operation\":\"release\",\"done\":2,\"refused\":0,\"skipped\":0}\n");
    CHECK(rig.store.count_queue(now).held == 0);
}

TEST_CASE("an action on everything matching is refused to a reader, without the token, for an unknown action or a bad up_to") {
    dashboard_rig rig;
    const auto id = rig.queued("one");
    rig.sign_in("olga", "operator password");
    CHECK(rig.post("/messages/all/hold", "").result() == http::status::forbidden);
    CHECK(rig.post("/messages/all/explode", "csrf=" + rig.csrf).result() == http::status::not_found);
    CHECK(rig.post("/messages/all/hold", "csrf=" + rig.csrf + "&up_to=many").result() == http::status::bad_request);
    CHECK(rig.post("/messages/all/hold?state=lost", "csrf=" + rig.csrf + "&up_to=1").result() == http::status::bad_request);
    CHECK(rig.post("/api/messages/all/hold", "csrf=" + rig.csrf).result() == http::status::bad_request); // the API needs up_to
    CHECK(rig.get("/messages/all/hold").result() == http::status::method_not_allowed);
    dashboard_rig reader_rig;
    reader_rig.queued("one");
    reader_rig.sign_in("rita", "reader password");
    CHECK_FALSE(has(reader_rig.get("/messages").body(), "/messages/all/"));
    CHECK(reader_rig.post("/messages/all/hold", "csrf=" + reader_rig.csrf + "&up_to=" + text(id)).result() == http::status::forbidden);
    CHECK(rig.store.count_queue(std::chrono::system_clock::now()).held == 0);
    CHECK(reader_rig.store.count_queue(std::chrono::system_clock::now()).held == 0);
}

TEST_CASE("an API token calls the API with its role and no CSRF token, and a wrong, revoked or non-bearer one gets 401") {
    spool_test::temp_dir dir;
    spool::sqlite_store store{dir.file("spool.db")};
    auto m = spool_test::from_ann({spool_test::smtp("bob@b.test")}, "by token");
    m.flags = spool::message_flags::submitted | spool::message_flags::unsent;
    const auto id = store.create_queued(spool::folders::outbox, m).value();
    spool::web_credentials users;
    const std::string ops = users.add_token("deploy-bot", spool::web_role::operator_);
    const std::string watcher = users.add_token("grafana", spool::web_role::reader);
    CHECK(ops.starts_with("spool_"));
    CHECK(ops.size() == 6 + 64);
    users.save(dir.file("users"));
    std::ifstream file(dir.file("users"));
    const std::string kept((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    CHECK(has(kept, "token:deploy-bot:operator:"));
    CHECK_FALSE(has(kept, ops.substr(6))); // only its hash is kept
    spool::web_dashboard<spool::sqlite_store> web(store, spool::web_credentials::load(dir.file("users")));
    auto call = [&](http::verb method, const std::string& target, const std::string& authorization) {
        spool::web_request r{method, target, 11};
        r.set(http::field::host, "dashboard.test");
        r.set(http::field::authorization, authorization);
        r.prepare_payload();
        return web.handle(r, "127.0.0.1");
    };
    CHECK(call(http::verb::get, "/api/counts", "Bearer " + watcher).result() == http::status::ok);
    CHECK(call(http::verb::post, "/api/messages/" + text(id) + "/hold", "Bearer " + watcher).result() == http::status::forbidden);
    const auto held = call(http::verb::post, "/api/messages/" + text(id) + "/hold", "Bearer " + ops);
    CHECK(held.body() == "{\"id\":" + text(id) + ",\"operation\":\"hold\",\"result\":\"applied\"}\n");
    CHECK(call(http::verb::get, "/api/counts", "Bearer spool_" + std::string(64, '0')).result() == http::status::unauthorized);
    CHECK(call(http::verb::get, "/api/counts", "Basic b2xnYTpwdw==").result() == http::status::unauthorized);
    CHECK(call(http::verb::get, "/messages", "Bearer " + ops).result() == http::status::see_other); // pages need a sign-in

    users.remove_token("grafana");
    CHECK_FALSE(users.check_token(watcher));
    CHECK(users.check_token(ops)->first == "deploy-bot");
    const std::string again = users.add_token("deploy-bot", spool::web_role::reader); // a new token replaces the name's old one
    CHECK_FALSE(users.check_token(ops));
    CHECK(users.check_token(again)->second == spool::web_role::reader);
}
