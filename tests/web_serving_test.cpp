// How the dashboard is served (docs/web.md, "Serving"): over TLS with the
// user's certificate, behind a trusted reverse proxy, with a request rate per
// client, and embedded beside a running spooler. A real server on loopback,
// asked by a Beast client over TLS, with a certificate made for the test by
// the openssl command.

#include "catch.hpp"
#include "support/async_transport.hpp"
#include "support/dashboard_rig.hpp"
#include "support/https_client.hpp"
#include "support/processes.hpp"
#include "support/temp_dir.hpp"

#include <spool/ops/metrics.hpp>
#include <spool/spool.hpp>
#include <spool/sqlite.hpp>
#include <spool/web.hpp>

#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <string>
#include <thread>

namespace http = boost::beast::http;
using spool_test::dashboard_rig;
using spool_test::has;

namespace {

// A self-signed certificate for 127.0.0.1, made by the openssl command.
struct certificate {
    spool_test::temp_dir dir;
    std::string cert = dir.file("cert.pem"), key = dir.file("key.pem");
    certificate() {
        const auto made = spool_test::wait_for(spool_test::spawn(
            "/usr/bin/openssl", {"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                                 "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert},
            {}, dir.file("openssl.out"), dir.file("openssl.err")));
        REQUIRE(made.code == 0);
    }
};

struct served_over_tls {
    certificate c;
    dashboard_rig rig;
    boost::asio::ssl::context tls = spool::web_tls_context(c.cert, c.key);
    boost::asio::io_context io;
    spool::web_server server{io, {boost::asio::ip::make_address("127.0.0.1"), 0}, tls,
                             [this](const spool::web_request& r, const std::string& a) { return rig.web.handle(r, a); }};
    std::thread runner{[this] { io.run(); }};
    ~served_over_tls() {
        boost::asio::post(io, [this] { server.stop(); });
        io.stop();
        runner.join();
    }
};

spool::web_response ask(dashboard_rig& rig, http::verb method, const std::string& target, const std::string& peer,
                        std::initializer_list<std::pair<std::string, std::string>> headers, const std::string& body = {}) {
    spool::web_request r{method, target, 11};
    r.set(http::field::host, "internal:8025");
    if (!rig.cookie.empty()) r.set(http::field::cookie, "spool_session=" + rig.cookie);
    for (const auto& [name, value] : headers) r.set(name, value);
    if (method == http::verb::post) r.set(http::field::content_type, "application/x-www-form-urlencoded");
    r.body() = body;
    r.prepare_payload();
    return rig.web.handle(r, peer);
}

spool::web_options behind(std::string proxy) {
    spool::web_options o;
    o.trusted_proxies = {std::move(proxy)};
    return o;
}

} // namespace

TEST_CASE("with the user's certificate it serves HTTPS only: a TLS client gets the page, a plain request no answer") {
    served_over_tls s;
    const auto page = spool_test::ask_https(s.server.endpoint(), s.c.cert, {http::verb::get, "/login", 11});
    CHECK(page.result() == http::status::ok);
    CHECK(has(page.body(), "Sign in"));
    // Plain HTTP to the TLS port: the handshake fails and the connection closes, with no page in clear.
    boost::asio::io_context io;
    boost::beast::tcp_stream plain(io);
    plain.connect(s.server.endpoint());
    spool::web_request r{http::verb::get, "/login", 11};
    r.set(http::field::host, "127.0.0.1");
    http::write(plain, r);
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> out;
    boost::beast::error_code ec;
    http::read(plain, buffer, out, ec);
    CHECK(ec);
    CHECK_FALSE(has(out.body(), "Sign in"));
}

TEST_CASE("a certificate or key that cannot be used is an error naming the file") {
    certificate c;
    CHECK_THROWS_WITH(spool::web_tls_context(c.dir.file("missing.pem"), c.key), ContainsSubstring("missing.pem"));
    CHECK_THROWS_WITH(spool::web_tls_context(c.cert, c.cert), ContainsSubstring("the private key"));
}

TEST_CASE("behind a trusted proxy, the client is the forwarded one: sign-ins are throttled per real client, and a forged header from elsewhere is ignored") {
    dashboard_rig rig{behind("10.0.0.1")};
    auto fail = [&](const std::string& peer, const std::string& forwarded, const std::string& user) {
        return ask(rig, http::verb::post, "/login", peer, {{"X-Forwarded-For", forwarded}}, "user=" + user + "&password=guess").result();
    };
    for (int i = 0; i < 3; ++i) CHECK(fail("10.0.0.1", "198.51.100.7, 203.0.113.5", "olga") == http::status::unauthorized);
    // The client the proxy saw (the rightmost address) waits; another client through the same proxy does not.
    CHECK(ask(rig, http::verb::post, "/login", "10.0.0.1", {{"X-Forwarded-For", "203.0.113.5"}}, "user=rita&password=reader+password").result() ==
          http::status::too_many_requests);
    CHECK(ask(rig, http::verb::post, "/login", "10.0.0.1", {{"X-Forwarded-For", "203.0.113.6"}}, "user=rita&password=reader+password").result() ==
          http::status::see_other);
    // From a peer that is not a trusted proxy, X-Forwarded-For proves nothing: the peer's own address is counted.
    for (int i = 0; i < 3; ++i) CHECK(fail("192.0.2.9", "203.0.113." + std::to_string(20 + i), "anyone") == http::status::unauthorized);
    CHECK(ask(rig, http::verb::post, "/login", "192.0.2.9", {{"X-Forwarded-For", "203.0.113.99"}}, "user=rita&password=reader+password").result() ==
          http::status::too_many_requests);
}

TEST_CASE("behind a trusted proxy, a POST's origin is checked against the host and scheme it forwards, and only from it") {
    dashboard_rig rig{behind("10.0.0.1")};
    const std::initializer_list<std::pair<std::string, std::string>> forwarded = {
        {"X-Forwarded-Host", "mail.example.org"}, {"X-Forwarded-Proto", "https"}, {"Origin", "https://mail.example.org"}};
    const auto signed_in = ask(rig, http::verb::post, "/login", "10.0.0.1", forwarded, "user=olga&password=operator+password");
    REQUIRE(signed_in.result() == http::status::see_other);
    CHECK(ask(rig, http::verb::post, "/login", "10.0.0.1",
              {{"X-Forwarded-Host", "mail.example.org"}, {"X-Forwarded-Proto", "https"}, {"Origin", "http://mail.example.org"}},
              "user=olga&password=operator+password")
              .result() == http::status::forbidden); // another scheme is another origin
    CHECK(ask(rig, http::verb::post, "/login", "10.0.0.1", {{"X-Forwarded-Host", "mail.example.org"}, {"Origin", "https://evil.test"}},
              "user=olga&password=operator+password")
              .result() == http::status::forbidden);
    // Not from the proxy: the forwarded host is ignored, and the origin does not match Host.
    CHECK(ask(rig, http::verb::post, "/login", "10.0.0.2", forwarded, "user=olga&password=operator+password").result() == http::status::forbidden);
    CHECK(ask(rig, http::verb::post, "/login", "10.0.0.2", {{"Origin", "http://internal:8025"}}, "user=olga&password=operator+password").result() ==
          http::status::see_other);
}

TEST_CASE("a client that sends requests faster than its rate is told to wait, and other clients are not") {
    spool::web_options o;
    o.requests_per_second = 0.5;
    o.request_burst = 3;
    dashboard_rig rig{o};
    for (int i = 0; i < 3; ++i) CHECK(rig.ask(http::verb::get, "/login", {}, "192.0.2.1").result() == http::status::ok);
    const auto slowed = rig.ask(http::verb::get, "/login", {}, "192.0.2.1");
    CHECK(slowed.result() == http::status::too_many_requests);
    CHECK(std::stoi(std::string(slowed[http::field::retry_after])) >= 1);
    CHECK(rig.ask(http::verb::get, "/login", {}, "192.0.2.2").result() == http::status::ok);
    spool::web_options unlimited;
    unlimited.requests_per_second = 0;
    dashboard_rig free_rig{unlimited};
    for (int i = 0; i < 300; ++i) REQUIRE(free_rig.ask(http::verb::get, "/login", {}, "192.0.2.1").result() == http::status::ok);
}

TEST_CASE("embedded beside a spooler, the destinations page shows each one's state, limit, failures and recent work, and the overview charts the day") {
    using namespace std::chrono_literals;
    dashboard_rig view;
    spool_test::async_transport transport;
    transport.on_transmit([](spool::transmission<spool::message>& tx) {
        if (spool_test::domain_of((*tx.recipients().begin()).address) == "down.example")
            return spool::transmit_result::site_failure("421 <b>too busy</b>", "4.4.1");
        for (const auto& r : tx.recipients()) tx.sent(r);
        return spool::transmit_result::done();
    });
    const spool::time_point noon = std::chrono::sys_days{std::chrono::year{2026} / 12 / 7} + 12h;
    spool::time_point now = noon;
    spool::web_activity activity([&] { return now; });
    spool::spooler sp{view.store, transport, activity};
    sp.limits<spool_test::async_transport>({.destination_concurrency = 3, .cool_down = 300s});
    auto client = sp.client();
    for (int i = 0; i < 2; ++i) REQUIRE(client.send(spool_test::from_ann({spool_test::smtp("u" + std::to_string(i) + "@up.example")})));
    REQUIRE(client.send(spool_test::from_ann({spool_test::smtp("x@down.example")})));
    sp.drain();
    REQUIRE(sp.stats().recipients_sent == 2);

    view.web.show_live({[&] { return sp.destinations(); }, activity, {"SMTP"}});
    view.sign_in("rita", "reader password");
    const std::string page = view.get("/destinations").body();
    CHECK(has(page, "<td>SMTP</td><td>down.example</td><td class=\"error\">down</td><td>0 of 3</td>"));
    CHECK(has(page, "421 &lt;b&gt;too busy&lt;/b&gt;"));
    const std::string json = view.get("/api/destinations").body();
    CHECK(has(json, "{\"transport\":\"SMTP\",\"destination\":\"down.example\",\"state\":\"down\",\"in_flight\":0,\"limit\":3,\"waiting\":0,"
                    "\"consecutive_failures\":1,\"next_probe\":\""));
    CHECK(has(json, "\"last_error\":\"421 \\u003cb>too busy\\u003c/b>\",\"recent\":{\"sent\":0,\"deferred\":1,\"failed\":0}}"));

    const std::string overview = view.get("/").body();
    CHECK(has(overview, "<svg class=\"chart\""));
    CHECK(has(overview, "<tr><th>last hour</th><td>3</td><td>2</td><td>2</td><td>1</td><td>0</td></tr>"));
    CHECK(has(overview, "href=\"/destinations\">Destinations</a>"));
    now = noon + 61min; // an hour later the last hour is empty, the day is not
    const std::string later = view.get("/").body();
    CHECK(has(later, "<tr><th>last hour</th><td>0</td><td>0</td><td>0</td><td>0</td><td>0</td></tr>"));
    CHECK(has(later, "<tr><th>last 24 hours</th><td>3</td><td>2</td><td>2</td><td>1</td><td>0</td></tr>"));
    const std::string minutes = view.get("/api/activity").body();
    CHECK(std::count(minutes.begin(), minutes.end(), '{') == 1 + 24 * 60);
    CHECK(has(minutes, "{\"start\":\"2026-12-07T12:00:00Z\",\"submitted\":3,\"finished\":2,\"sent\":2,\"deferred\":1,\"failed\":0}"));

    sp.stop();
}

TEST_CASE("a dashboard not embedded in a spooler has no destinations page or activity, and says why") {
    dashboard_rig rig;
    rig.sign_in("rita", "reader password");
    CHECK_FALSE(has(rig.get("/").body(), "/destinations"));
    const auto page = rig.get("/destinations");
    CHECK(page.result() == http::status::not_found);
    CHECK(has(page.body(), "not embedded"));
    CHECK(rig.get("/api/activity").result() == http::status::not_found);
}

TEST_CASE("apart from the spooler, the overview charts what the spooler's metrics page says, read over HTTP, counting from the first read") {
    using namespace std::chrono_literals;
    // The spooler, with its metrics served on loopback as spool's metrics example serves them.
    spool::memory_store store;
    spool::memory_transport transport;
    transport.reject("gone@x.test");
    spool::metrics metrics;
    spool::spooler sp{store, transport, metrics};
    auto client = sp.client();
    auto send = [&](const std::string& to) { REQUIRE(client.send(spool_test::from_ann({spool_test::smtp(to)}))); };
    send("early@x.test"); // before the first read: not charted
    sp.drain();
    boost::asio::io_context io;
    spool::web_server metrics_page(io, {boost::asio::ip::make_address("127.0.0.1"), 0}, [&](const spool::web_request& r, const std::string&) {
        spool::web_response a{http::status::ok, r.version()};
        a.set(http::field::content_type, spool::content_type(spool::exposition::openmetrics));
        a.body() = metrics.render(spool::exposition::openmetrics);
        a.prepare_payload();
        return a;
    });
    // The dashboard's side: a feed into the activity it charts.
    spool::web_activity activity;
    std::vector<std::string> problems;
    std::mutex problems_mutex;
    spool::web_metrics_feed feed(io, "http://127.0.0.1:" + std::to_string(metrics_page.endpoint().port()) + "/metrics", activity, 20ms,
                                 [&](const std::string& why) {
                                     std::lock_guard g{problems_mutex};
                                     problems.push_back(why);
                                 });
    std::thread runner([&] { io.run(); });
    auto wait_until = [&](auto done) {
        const auto deadline = std::chrono::steady_clock::now() + 60s; // a bound for a broken build, not a timing
        while (!done() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
        return done();
    };
    auto day = [&] {
        spool::web_minute sum;
        for (const auto& m : activity.last_day()) {
            sum.submitted += m.submitted;
            sum.finished += m.finished;
            sum.sent += m.sent;
            sum.deferred += m.deferred;
            sum.failed += m.failed;
        }
        return sum;
    };
    CHECK(wait_until([&] { return feed.reads() >= 1; }));
    send("a@x.test");
    send("b@x.test");
    send("gone@x.test");
    sp.drain();
    CHECK(wait_until([&] { return day().finished == 3; }));
    const auto counted = day();
    CHECK(counted.submitted == 3);
    CHECK(counted.sent == 2);
    CHECK(counted.failed == 1);
    CHECK(counted.deferred == 0);
    {
        std::lock_guard g{problems_mutex};
        CHECK(problems.empty());
    }
    io.stop();
    runner.join();
    sp.stop();
}

TEST_CASE("a metrics feed refuses a URL it cannot read, and says why a read failed") {
    using namespace std::chrono_literals;
    boost::asio::io_context io;
    spool::web_activity activity;
    CHECK_THROWS_AS(spool::web_metrics_feed(io, "https://127.0.0.1/metrics", activity), std::invalid_argument);
    CHECK_THROWS_AS(spool::web_metrics_feed(io, "http://:80/metrics", activity), std::invalid_argument);
    CHECK_THROWS_AS(spool::web_metrics_feed(io, "http://127.0.0.1:http/", activity), std::invalid_argument);
    // A page with none of spool's counters, served on loopback: the feed says so and charts nothing.
    spool::web_server other(io, {boost::asio::ip::make_address("127.0.0.1"), 0}, [](const spool::web_request& r, const std::string&) {
        spool::web_response a{http::status::ok, r.version()};
        a.body() = "# TYPE other_total counter\nother_total 5\n";
        a.prepare_payload();
        return a;
    });
    std::string why;
    std::mutex m;
    spool::web_metrics_feed feed(io, "http://127.0.0.1:" + std::to_string(other.endpoint().port()) + "/metrics", activity, 20ms,
                                 [&](const std::string& w) {
                                     std::lock_guard g{m};
                                     if (why.empty()) why = w;
                                 });
    std::thread runner([&] { io.run(); });
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    auto said = [&] {
        std::lock_guard g{m};
        return !why.empty();
    };
    while (!said() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
    io.stop();
    runner.join();
    CHECK(has(why, "has none of spool's counters"));
    CHECK(feed.reads() == 0);
}
