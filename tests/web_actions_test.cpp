// The dashboard's actions beyond one message, and the pages the store's
// capabilities add (docs/web.md): a hand-picked selection, the filter on
// error text, a message's headers, the action log and the suppression list,
// through its public handle() over a real SQLite spool.

#include "catch.hpp"
#include "support/dashboard_rig.hpp"
#include "support/fixtures.hpp"
#include "support/reports.hpp"
#include "support/sqlite_files.hpp"

#include <spool/sqlite.hpp>
#include <spool/web.hpp>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <string>

namespace http = boost::beast::http;
using spool_test::dashboard_rig;
using spool_test::has;
using spool_test::text;

namespace {

// A message whose recipient waits for a retry after `reason`.
spool::message deferred_by(const std::string& reason, const std::string& to = "bob@b.test") {
    auto m = spool_test::from_ann({spool_test::smtp(to)}, "retrying");
    m.recipients[0].status = spool::status::deferred{std::chrono::system_clock::now() + std::chrono::hours{1}, reason, 2, "4.2.2"};
    return m;
}

template <class Rig>
bool held(Rig& rig, spool::message_id id) { return rig.store.inspect(id, std::chrono::system_clock::now())->held; }

// A SQLite store whose first batch waits until let go: an action on
// everything matching, caught in its middle.
struct gated_store : spool::sqlite_store {
    using spool::sqlite_store::sqlite_store;
    struct gate {
        std::mutex m;
        std::condition_variable changed;
        bool reached = false, open = false;
    };
    std::shared_ptr<gate> g = std::make_shared<gate>();

    template <class F>
    std::error_code batch(F&& f) {
        {
            std::unique_lock l{g->m};
            g->reached = true;
            g->changed.notify_all();
            g->changed.wait(l, [&] { return g->open; });
        }
        return spool::sqlite_store::batch(std::forward<F>(f));
    }
    void wait_until_reached() {
        std::unique_lock l{g->m};
        g->changed.wait(l, [&] { return g->reached; });
    }
    void let_go() {
        std::lock_guard l{g->m};
        g->open = true;
        g->changed.notify_all();
    }
};

} // namespace

TEST_CASE("an operator acts on the messages checked on the page, and only those") {
    dashboard_rig rig;
    const auto a = rig.queued("one"), b = rig.queued("two"), c = rig.queued("three");
    rig.sign_in("olga", "operator password");
    const std::string page = rig.get("/messages").body();
    CHECK(has(page, "<input type=\"checkbox\" name=\"id\" value=\"" + text(a) + "\""));
    CHECK(has(page, "formaction=\"/messages/selected/hold\""));

    const auto done = rig.post("/messages/selected/hold", "csrf=" + rig.csrf + "&id=" + text(a) + "&id=" + text(c));
    CHECK(done.result() == http::status::ok);
    CHECK(has(done.body(), "hold of the 2 selected: 2 done, 0 refused"));
    CHECK(held(rig, a));
    CHECK_FALSE(held(rig, b));
    CHECK(held(rig, c));

    // One that left the queue meanwhile is refused, the others done; through the API too.
    REQUIRE(rig.store.request(b, spool::admin_request::remove).has_value());
    const auto api = rig.post("/api/messages/selected/release", "csrf=" + rig.csrf + "&id=" + text(a) + "&id=" + text(b) + "&id=" + text(c));
    CHECK(api.body() == "{\"operation\":\"release\",\"done\":2,\"refused\":1}\n");
    CHECK_FALSE(held(rig, a));
    CHECK_FALSE(held(rig, c));
}

TEST_CASE("a selection that is empty, malformed, too large, unknown, forged or a reader's changes nothing") {
    spool::web_options options;
    options.max_selection = 2;
    dashboard_rig rig{options};
    const auto a = rig.queued("one"), b = rig.queued("two"), c = rig.queued("three");
    rig.sign_in("olga", "operator password");
    const std::string three = "&id=" + text(a) + "&id=" + text(b) + "&id=" + text(c);
    CHECK(rig.post("/messages/selected/hold", "csrf=" + rig.csrf).result() == http::status::bad_request);
    CHECK(rig.post("/messages/selected/hold", "csrf=" + rig.csrf + "&id=" + text(a) + "&id=seven").result() == http::status::bad_request);
    CHECK(rig.post("/messages/selected/hold", "csrf=" + rig.csrf + "&id=%zz").result() == http::status::forbidden); // its token cannot be read
    CHECK(rig.post("/messages/selected/hold", "csrf=" + rig.csrf + "&csrf=" + rig.csrf + "&id=" + text(a)).result() == http::status::forbidden);
    CHECK(rig.post("/messages/selected/hold", "csrf=" + rig.csrf + three).result() == http::status::payload_too_large);
    CHECK(rig.post("/messages/selected/explode", "csrf=" + rig.csrf + "&id=" + text(a)).result() == http::status::not_found);
    CHECK(rig.post("/messages/selected/hold", "id=" + text(a)).result() == http::status::forbidden); // no CSRF token
    CHECK(rig.get("/messages/selected/hold").result() == http::status::method_not_allowed);
    dashboard_rig reader;
    const auto r = reader.queued("one");
    reader.sign_in("rita", "reader password");
    CHECK_FALSE(has(reader.get("/messages").body(), "type=\"checkbox\""));
    CHECK(reader.post("/messages/selected/hold", "csrf=" + reader.csrf + "&id=" + text(r)).result() == http::status::forbidden);
    CHECK_FALSE(held(reader, r));
    for (auto id : {a, b, c}) CHECK_FALSE(held(rig, id));
}

TEST_CASE("the filter on error text lists the messages whose last reply has it, reading a bounded number of rows per page") {
    spool::web_options options;
    options.page_size = 2;
    options.error_scan_limit = 3;
    dashboard_rig rig{options};
    const auto full1 = rig.queued(deferred_by("452 4.2.2 Mailbox FULL"));
    rig.queued(deferred_by("421 try again later"));
    rig.queued(deferred_by("421 try again later"));
    rig.queued(deferred_by("421 try again later"));
    const auto full2 = rig.queued(deferred_by("452 mailbox full, really"));
    const auto full3 = rig.queued(deferred_by("452 mailbox full"));
    rig.queued("never tried");
    rig.sign_in("olga", "operator password");

    // The first page reads 3 rows, finds one, and offers more after the last row read.
    const auto first = rig.get("/api/messages?error=mailbox+full");
    CHECK(first.result() == http::status::ok);
    CHECK(has(first.body(), "\"id\":" + text(full1) + ","));
    CHECK(has(first.body(), "\"scanned\":3,\"next_after\":" + text(spool::message_id{static_cast<std::uint64_t>(full1) + 2}) + "}"));
    const auto html = rig.get("/messages?error=mailbox+full");
    CHECK(has(html.body(), "(3 read for the error text)"));
    CHECK(has(html.body(), ">more</a>"));
    // The next page fills up (2 found) and says where the one after starts.
    const auto second = rig.get("/api/messages?error=mailbox+full&after=" + text(spool::message_id{static_cast<std::uint64_t>(full1) + 2}));
    CHECK(has(second.body(), "\"id\":" + text(full2) + ","));
    CHECK(has(second.body(), "\"id\":" + text(full3) + ","));
    CHECK(has(second.body(), "\"next_after\":" + text(full3) + "}"));
    const auto last = rig.get("/api/messages?error=mailbox+full&after=" + text(full3));
    CHECK(has(last.body(), "\"messages\":[],\"scanned\":1,\"next_after\":null}"));

    // Everything matching counts only the messages with the text, however many rows that reads.
    CHECK(rig.get("/api/messages/count?error=MAILBOX+full").body() == "{\"count\":3,\"up_to\":" + text(full3) + "}\n");
    const auto all = rig.post("/api/messages/all/hold?error=mailbox+full", "csrf=" + rig.csrf + "&up_to=" + text(full3));
    CHECK(all.body() == "{\"operation\":\"hold\",\"done\":3,\"refused\":0,\"skipped\":0}\n");
    CHECK(rig.store.count_queue(std::chrono::system_clock::now()).held == 3);
    CHECK(rig.get("/messages?error=" + std::string(201, 'x')).result() == http::status::bad_request);
}

TEST_CASE("a message's page shows its header fields, escaped") {
    dashboard_rig rig;
    auto m = spool_test::from_ann({spool_test::smtp("bob@b.test")}, "");
    m.payload.subject.clear();
    m.payload.headers = {{"DKIM-Signature", "v=1; a=rsa-sha256"}};
    m.payload.mime = "From: Ann <ann@a.test>\r\nSubject: =?utf-8?q?caf=C3=A9?= <b>bold</b>\r\nX-Long: one\r\n two\r\n\r\nbody\r\n";
    const auto mime = rig.queued(m);
    const auto plain = rig.queued("a plain subject");
    rig.sign_in("rita", "reader password");
    const std::string page = rig.get("/messages/" + text(mime)).body();
    CHECK(has(page, "<h2>Headers</h2>"));
    CHECK(has(page, "<tr><th>DKIM-Signature</th><td>v=1; a=rsa-sha256</td></tr>"));
    CHECK(has(page, "<tr><th>From</th><td>Ann &lt;ann@a.test&gt;</td></tr>"));
    CHECK(has(page, "<tr><th>Subject</th><td>=?utf-8?q?caf=C3=A9?= &lt;b&gt;bold&lt;/b&gt;</td></tr>"));
    CHECK(has(page, "<tr><th>X-Long</th><td>one two</td></tr>"));
    CHECK(has(rig.get("/messages/" + text(plain)).body(), "<tr><th>Subject</th><td>a plain subject</td></tr>"));
}

TEST_CASE("every action is in the action log: who, what, on what, and how it went, newest first, for readers too") {
    dashboard_rig rig;
    const auto a = rig.queued("one", "ann@a.test"), b = rig.queued("two", "amy@a.test");
    rig.sign_in("olga", "operator password");
    REQUIRE(rig.post("/messages/" + text(a) + "/hold", "csrf=" + rig.csrf).result() == http::status::ok);
    REQUIRE(rig.post("/messages/selected/release", "csrf=" + rig.csrf + "&id=" + text(a) + "&id=" + text(b)).result() == http::status::ok);
    REQUIRE(rig.post("/messages/all/flush?domain=a.test", "csrf=" + rig.csrf + "&up_to=" + text(a)).result() == http::status::ok);
    REQUIRE(rig.post("/messages/987654/expire", "csrf=" + rig.csrf).result() == http::status::not_found);
    REQUIRE(rig.post("/suppressions/add", "csrf=" + rig.csrf + "&address=Gone@X.test").result() == http::status::ok);

    const auto log = rig.store.action_log(0, 10);
    REQUIRE(log);
    REQUIRE(log->size() == 5);
    const auto& e = *log;
    CHECK(e[0].who == "olga (web)");
    CHECK((e[0].action == "suppress" && e[0].target == "Gone@x.test" && e[0].done == 1));
    CHECK((e[1].action == "expire" && e[1].target == "message 987654" && e[1].done == 0 && e[1].refused == 1));
    CHECK((e[2].action == "flush" && e[2].target == "matching domain=a.test, up to " + text(a) && e[2].done == 1 && e[2].skipped == 1));
    CHECK((e[3].action == "release" && e[3].target == "messages " + text(a) + ", " + text(b) && e[3].done == 2));
    CHECK((e[4].action == "hold" && e[4].target == "message " + text(a) && e[4].done == 1 && e[4].refused == 0));

    dashboard_rig reader_view; // a reader reads the log; the page escapes what it shows
    (void)reader_view.store.log_action({0, std::chrono::system_clock::now(), "<b>mallory</b> (spoolctl)", "hold", "ALL", 3, 0, 0});
    reader_view.sign_in("rita", "reader password");
    const std::string page = reader_view.get("/actions").body();
    CHECK(has(page, "&lt;b&gt;mallory&lt;/b&gt; (spoolctl)"));
    CHECK(has(page, "href=\"/actions\">Action log</a>"));
    CHECK(has(reader_view.get("/api/actions").body(), "\"who\":\"\\u003cb>mallory\\u003c/b> (spoolctl)\",\"action\":\"hold\",\"target\":\"ALL\","
                                                     "\"done\":3,\"refused\":0,\"skipped\":0}],\"next_before\":null}"));
    CHECK(reader_view.get("/actions?before=x").result() == http::status::bad_request);
    CHECK(reader_view.get("/actions?page=2").result() == http::status::bad_request);
}

TEST_CASE("the action log pages by key, and an entry older than the retention is forgotten at the next action") {
    spool::web_options options;
    options.page_size = 2;
    options.action_log_retention = std::chrono::hours{24};
    dashboard_rig rig{options};
    const auto now = std::chrono::system_clock::now();
    REQUIRE_FALSE(rig.store.log_action({0, now - std::chrono::hours{48}, "old (spoolctl)", "hold", "message 1", 1, 0, 0}));
    REQUIRE_FALSE(rig.store.log_action({0, now - std::chrono::hours{1}, "recent (spoolctl)", "hold", "message 2", 1, 0, 0}));
    rig.sign_in("olga", "operator password");
    const auto first = rig.get("/api/actions");
    const auto all = rig.store.action_log(0, 10);
    REQUIRE((all && all->size() == 2));
    CHECK(has(first.body(), "\"next_before\":" + std::to_string(all->back().key) + "}"));
    const auto id = rig.queued("one");
    REQUIRE(rig.post("/messages/" + text(id) + "/hold", "csrf=" + rig.csrf).result() == http::status::ok);
    const auto left = rig.store.action_log(0, 10);
    REQUIRE(left);
    REQUIRE(left->size() == 2);
    CHECK((*left)[0].who == "olga (web)");
    CHECK((*left)[1].who == "recent (spoolctl)");
}

TEST_CASE("an action whose log entry cannot be written is done, and its answer says the log failed") {
    dashboard_rig rig;
    const auto id = rig.queued("one");
    spool_test::raw_sql(rig.dir.file("spool.db"), "DROP TABLE action_log");
    rig.sign_in("olga", "operator password");
    const auto r = rig.post("/api/messages/" + text(id) + "/hold", "csrf=" + rig.csrf);
    CHECK(r.result() == http::status::ok);
    CHECK(has(r.body(), "\"result\":\"applied\",\"log_error\":\"done, but the action log could not be written: "));
    CHECK(held(rig, id));
}

TEST_CASE("an operator adds to and removes from the suppression list, and a reader only reads it") {
    dashboard_rig rig;
    rig.sign_in("olga", "operator password");
    CHECK(has(rig.get("/").body(), "href=\"/suppressions\">Suppressions</a>"));
    const auto added = rig.post("/suppressions/add", "csrf=" + rig.csrf + "&address=Gone%40Example.ORG&reason=%3Cb%3Ecomplained%3C%2Fb%3E&expires_in=3600");
    CHECK(added.result() == http::status::ok);
    const auto now = std::chrono::system_clock::now();
    const auto entry = rig.store.find_suppression("Gone@example.org", now);
    REQUIRE((entry && *entry));
    CHECK((*entry)->reason == "<b>complained</b>");
    REQUIRE((*entry)->expires);
    CHECK(*(*entry)->expires > now + std::chrono::minutes{59});
    const std::string page = rig.get("/suppressions").body();
    CHECK(has(page, "1 address on the list"));
    CHECK(has(page, "<td>Gone@example.org</td>"));
    CHECK(has(page, "&lt;b&gt;complained&lt;/b&gt;"));
    const auto listed = rig.get("/api/suppressions").body();
    CHECK(has(listed, "{\"count\":1,\"suppressions\":[{\"address\":\"Gone@example.org\",\"reason\":\"\\u003cb>complained\\u003c/b>\","));
    CHECK(has(listed, "\"source\":0}],\"next_after\":null}"));

    CHECK(rig.post("/suppressions/add", "csrf=" + rig.csrf + "&address=nobody").result() == http::status::bad_request);
    CHECK(rig.post("/suppressions/add", "csrf=" + rig.csrf + "&address=a%40b.test&expires_in=soon").result() == http::status::bad_request);
    CHECK(rig.post("/suppressions/add", "address=a%40b.test").result() == http::status::forbidden); // no CSRF token
    CHECK(rig.post("/api/suppressions/remove", "csrf=" + rig.csrf + "&address=Gone%40example.org").body() ==
          "{\"address\":\"Gone@example.org\",\"operation\":\"remove\",\"result\":\"applied\"}\n");
    CHECK(rig.post("/suppressions/remove", "csrf=" + rig.csrf + "&address=Gone%40example.org").result() == http::status::not_found);
    const auto gone = rig.store.find_suppression("Gone@example.org", now);
    CHECK((gone && !*gone));

    dashboard_rig reader;
    REQUIRE_FALSE(reader.store.suppress({"x@y.test", "550 5.1.1", "5.1.1", std::chrono::system_clock::now(), std::nullopt, spool::message_id{3}}));
    reader.sign_in("rita", "reader password");
    const std::string read = reader.get("/suppressions").body();
    CHECK(has(read, "<td>x@y.test</td>"));
    CHECK_FALSE(has(read, "/suppressions/remove"));
    CHECK_FALSE(has(read, "/suppressions/add"));
    CHECK(reader.post("/suppressions/remove", "csrf=" + reader.csrf + "&address=x%40y.test").result() == http::status::forbidden);
    CHECK(reader.get("/suppressions?sort=name").result() == http::status::bad_request);
    const auto still = reader.store.find_suppression("x@y.test", std::chrono::system_clock::now());
    CHECK((still && *still));
}

TEST_CASE("while an action on everything matching runs, the pages answer, and a second such action is refused with 409") {
    spool_test::basic_dashboard_rig<gated_store> rig;
    const auto a = rig.queued("one"), b = rig.queued("two");
    rig.sign_in("olga", "operator password");
    spool::web_response first;
    std::thread running([&] { first = rig.post("/api/messages/all/hold", "csrf=" + rig.csrf + "&up_to=" + text(b)); });
    rig.store.wait_until_reached(); // the first action is in its first chunk's commit
    CHECK(rig.get("/messages").result() == http::status::ok);
    const auto second = rig.post("/api/messages/all/release", "csrf=" + rig.csrf + "&up_to=" + text(b));
    CHECK(second.result() == http::status::conflict);
    CHECK(has(second.body(), "another action on everything matching is running"));
    rig.store.let_go();
    running.join();
    CHECK(first.body() == "{\"operation\":\"hold\",\"done\":2,\"refused\":0,\"skipped\":0}\n");
    CHECK(held(rig, a));
    CHECK(held(rig, b));
    // Ended, the next one runs.
    CHECK(rig.post("/api/messages/all/release", "csrf=" + rig.csrf + "&up_to=" + text(b)).result() == http::status::ok);
    CHECK_FALSE(held(rig, a));
}

TEST_CASE("a store that cannot answer gives 503: a page for the pages, JSON for the API") {
    dashboard_rig rig;
    rig.queued("one");
    rig.sign_in("olga", "operator password");
    spool_test::raw_sql(rig.dir.file("spool.db"), "DROP TABLE outgoing_queue");
    const auto page = rig.get("/messages");
    CHECK(page.result() == http::status::service_unavailable);
    CHECK(has(std::string(page[http::field::content_type]), "text/html"));
    CHECK(has(page.body(), "the store could not answer"));
    const auto api = rig.get("/api/messages");
    CHECK(api.result() == http::status::service_unavailable);
    CHECK(api[http::field::content_type] == "application/json");
    CHECK(has(api.body(), "{\"error\":\"the store could not answer: "));
}
