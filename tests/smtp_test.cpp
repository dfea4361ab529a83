// The SMTP transport against real servers on loopback (tests/smtp/peers.py,
// started by the CTest fixture "smtp_peers"): aiosmtpd scripted per
// recipient, Postfix's smtp-sink and its fault options, raw servers that
// stall, hang up or talk nonsense, and dnsmasq for MX lookups.

#include "catch.hpp"
#include "support/fixtures.hpp"

#include <spool/mail/rfc3464.hpp>
#include <spool/spool.hpp>
#include <spool/testing/transport_kit.hpp>
#include <spool/smtp.hpp>
#include <spool/smtp/dns.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

using namespace std::chrono_literals;
using spool::testing::hand_off;
using kind = spool::transmit_result::kind;

namespace {

namespace fs = std::filesystem;

const fs::path& peers_dir() {
    static const fs::path dir = [] {
        const char* d = std::getenv("SPOOL_SMTP_PEERS");
        if (!d) throw std::runtime_error("SPOOL_SMTP_PEERS is not set: run these tests through ctest, whose fixture starts the peers");
        return fs::path(d);
    }();
    return dir;
}

std::uint16_t port(const std::string& name) {
    static const std::map<std::string, std::uint16_t> ports = [] {
        std::map<std::string, std::uint16_t> out;
        std::ifstream in(peers_dir() / "ports");
        for (std::string line; std::getline(in, line);) {
            const auto eq = line.find('=');
            out[line.substr(0, eq)] = static_cast<std::uint16_t>(std::stoi(line.substr(eq + 1)));
        }
        return out;
    }();
    const auto it = ports.find(name);
    if (it == ports.end()) throw std::runtime_error("no peer named " + name + " in " + (peers_dir() / "ports").string());
    return it->second;
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// Each run's subjects end in this, so that a second run against the same
// peers (by hand, without the fixture's fresh start) finds only its own mail.
const std::string& run_token() {
    static const std::string token = "run" + std::to_string(::getpid());
    return token;
}

// What the peer `listener` received that contains `marker` and this run's
// token after it, one string a transaction.
std::vector<std::string> received(const std::string& listener, const std::string& marker_without_token) {
    const std::string marker = marker_without_token + "." + run_token();
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(peers_dir() / "mail" / listener)) {
        if (e.path().extension() == ".tmp" || e.path().filename() == "quits") continue;
        std::string text = read_file(e.path());
        if (text.find(marker) != std::string::npos) out.push_back(std::move(text));
    }
    return out;
}

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
    return n;
}

// A relay on loopback, plain text unless a test says otherwise, with time
// limits short enough that a broken test ends well within ctest's.
spool::smtp_options relay_to(const std::string& listener) {
    spool::smtp_options o;
    o.relay = spool::smtp_relay{"127.0.0.1", port(listener)};
    o.tls = spool::smtp_tls::none;
    o.helo_name = "spool.test";
    auto& t = o.timeouts;
    t.connect = t.greeting = t.starttls = t.mail = t.rcpt = t.data_init = t.data_xfer = t.data_done = t.rset = t.quit = 10s;
    return o;
}

// A message with a subject no other test uses, to find it at the peer.
spool::message letter(const std::string& marker, std::vector<std::string> to) {
    spool::message m;
    m.id = spool::message_id{42};
    m.sender = {"Sender", "sender@spool.test", "SMTP"};
    m.payload.subject = marker + "." + run_token();
    m.payload.body = "Hello.\n";
    for (auto& a : to) m.recipients.push_back(spool_test::smtp(a));
    return m;
}

} // namespace

TEST_CASE("each recipient gets the outcome of its own RCPT reply: 2xx sent, 4xx deferred, 5xx failed, with the reply kept") {
    spool::smtp_transport smtp{relay_to("plain")};
    const auto rec = hand_off(smtp, letter("per-recipient", {"ok1@a.test", "tmp1@a.test", "bad1@a.test"}));
    CHECK(rec.result.what() == kind::done);
    REQUIRE(rec.sent.size() == 1);
    CHECK(rec.sent[0].address == "ok1@a.test");
    REQUIRE(rec.deferred.size() == 1);
    const auto& d = std::get<spool::status::deferred>(rec.deferred[0].status);
    CHECK(d.reason.rfind("450 4.2.1 <tmp1@a.test>", 0) == 0);
    CHECK(d.diagnostic == "4.2.1");
    REQUIRE(rec.failed.size() == 1);
    const auto& f = std::get<spool::status::failed>(rec.failed[0].status);
    CHECK(f.reason.rfind("550 5.1.1 <bad1@a.test>", 0) == 0);
    CHECK(f.diagnostic == "5.1.1");
    const auto got = received("plain", "Subject: per-recipient");
    REQUIRE(got.size() == 1);
    CHECK(count(got[0], "rcpt: ") == 1);
    CHECK(got[0].find("rcpt: ok1@a.test") != std::string::npos);
}

TEST_CASE("DSN parameters go out only where the server offers DSN, and say who makes the delivery report") {
    auto m = letter("dsn-params", {"wants-report@a.test", "no-reports@a.test", "no-delay@a.test"});
    m.recipients[0].reports = spool::report_requests{true, false};
    m.recipients[1].reports = spool::report_requests{false, true};
    m.recipients[2].reports = spool::report_requests{false, false, true};
    SECTION("offered: NOTIFY, ORCPT and ENVID are sent, and the next hop reports") {
        spool::smtp_transport smtp{relay_to("plain")};
        const auto rec = hand_off(smtp, m);
        REQUIRE(rec.sent.size() == 3);
        CHECK(std::get<spool::status::sent>(rec.sent[0].status).action == spool::delivery_action::relayed_with_reports);
        const auto got = received("plain", "Subject: dsn-params");
        REQUIRE(got.size() == 1);
        CHECK(got[0].find("rcpt-options: NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=RFC822;WANTS-REPORT@A.TEST") != std::string::npos);
        CHECK(got[0].find("rcpt-options: NOTIFY=NEVER ORCPT=RFC822;NO-REPORTS@A.TEST") != std::string::npos);
        CHECK(got[0].find("rcpt-options: NOTIFY=FAILURE ORCPT=RFC822;NO-DELAY@A.TEST") != std::string::npos);
        CHECK(got[0].find("ENVID=SPOOL.42") != std::string::npos);
        CHECK(got[0].find("SIZE=") != std::string::npos);
    }
    SECTION("with the spool's secret, the ENVID carries the MAC that lets a returned report be matched") {
        auto options = relay_to("plain");
        options.envelope_id_secret = "the spool's secret";
        spool::smtp_transport smtp{options};
        m.payload.subject = "dsn-envid." + run_token();
        const auto rec = hand_off(smtp, m);
        REQUIRE(rec.sent.size() == 3);
        const auto got = received("plain", "Subject: dsn-envid");
        REQUIRE(got.size() == 1);
        std::string envid = spool::smtp_envelope_id(m.id, options.envelope_id_secret);
        for (char& c : envid) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        CHECK(envid.size() > 9);
        CHECK(got[0].find("ENVID=" + envid) != std::string::npos);
    }
    SECTION("not offered: none is sent, and spool's report will say relayed") {
        spool::smtp_transport smtp{relay_to("nodsn")};
        const auto rec = hand_off(smtp, m);
        REQUIRE(rec.sent.size() == 3);
        CHECK(std::get<spool::status::sent>(rec.sent[0].status).action == spool::delivery_action::relayed);
        const auto got = received("nodsn", "Subject: dsn-params");
        REQUIRE(got.size() == 1);
        CHECK(got[0].find("NOTIFY") == std::string::npos);
        CHECK(got[0].find("ENVID") == std::string::npos);
    }
}

TEST_CASE("recipients a server refuses with 452 (too many) go in the next transaction, and max_recipients splits too") {
    const std::vector<std::string> five = {"r1@a.test", "r2@a.test", "r3@a.test", "r4@a.test", "r5@a.test"};
    SECTION("452 after the server's third recipient") {
        spool::smtp_transport smtp{relay_to("plain")};
        const auto rec = hand_off(smtp, letter("overflow-452", five));
        CHECK(rec.sent.size() == 5);
        const auto got = received("plain", "Subject: overflow-452");
        REQUIRE(got.size() == 2);
        CHECK(count(got[0], "rcpt: ") + count(got[1], "rcpt: ") == 5);
    }
    SECTION("max_recipients = 2") {
        auto o = relay_to("plain");
        o.max_recipients = 2;
        spool::smtp_transport smtp{o};
        const auto rec = hand_off(smtp, letter("overflow-limit", five));
        CHECK(rec.sent.size() == 5);
        CHECK(received("plain", "Subject: overflow-limit").size() == 3);
    }
}

TEST_CASE("only a 452 that means too many recipients moves a recipient to the next transaction, and any other waits in the server's words") {
    const std::vector<std::string> five = {"r1@a.test", "full1@a.test", "r2@a.test", "r3@a.test", "r4@a.test"};
    auto check = [](const spool::testing::hand_off_record& rec, const std::string& listener, const std::string& marker,
                    const std::string& full_reply) {
        CHECK(rec.result.what() == kind::done);
        CHECK(rec.sent.size() == 4);
        REQUIRE(rec.deferred.size() == 1);
        CHECK(rec.deferred[0].address == "full1@a.test");
        const auto& d = std::get<spool::status::deferred>(rec.deferred[0].status);
        CHECK(d.reason == full_reply);
        // r4 was one too many for the first transaction and went in a second;
        // the full mailbox was in neither.
        const auto got = received(listener, "Subject: " + marker);
        REQUIRE(got.size() == 2);
        CHECK(count(got[0], "rcpt: ") + count(got[1], "rcpt: ") == 4);
        for (const auto& t : got) CHECK(t.find("rcpt: full1@") == std::string::npos);
        return d.diagnostic;
    };
    SECTION("by the enhanced code: 4.2.2 (a full mailbox) waits, 4.5.3 overflows") {
        spool::smtp_transport smtp{relay_to("plain")};
        const auto rec = hand_off(smtp, letter("full-422", five));
        CHECK(check(rec, "plain", "full-422", "452 4.2.2 <full1@a.test>: Recipient address rejected: Mailbox full") == "4.2.2");
    }
    SECTION("from a server without ENHANCEDSTATUSCODES, by the reply's text") {
        spool::smtp_transport smtp{relay_to("oldstyle")};
        const auto rec = hand_off(smtp, letter("full-old", five));
        check(rec, "oldstyle", "full-old", "452 <full1@a.test>: Recipient address rejected: Mailbox full");
    }
    SECTION("a transaction where every recipient is one too many keeps the server's reply, not one of spool's") {
        spool::smtp_transport smtp{relay_to("tight")};
        const auto rec = hand_off(smtp, letter("all-too-many", {"r1@a.test", "r2@a.test"}));
        CHECK(rec.sent.empty());
        REQUIRE(rec.deferred.size() == 2);
        for (const auto& r : rec.deferred) {
            const auto& d = std::get<spool::status::deferred>(r.status);
            CHECK(d.reason == "452 4.5.3 Error: too many recipients");
            CHECK(d.diagnostic == "4.5.3");
        }
        CHECK(received("tight", "Subject: all-too-many").empty());
    }
}

TEST_CASE("250 recipients, 125 with a full mailbox: one copy of the data per transaction, each recipient sent once") {
    std::vector<std::string> to;
    for (int i = 0; i < 250; ++i) to.push_back((i % 2 ? "full" : "r") + std::to_string(i) + "@a.test");
    spool::smtp_transport smtp{relay_to("roomy")}; // max_recipients 100: three transactions
    const auto rec = hand_off(smtp, letter("half-full", to));
    CHECK(rec.sent.size() == 125);
    REQUIRE(rec.deferred.size() == 125);
    for (const auto& r : rec.deferred) CHECK(std::get<spool::status::deferred>(r.status).diagnostic == "4.2.2");
    const auto got = received("roomy", "Subject: half-full");
    CHECK(got.size() == 3);
    std::string all;
    for (const auto& t : got) all += t;
    CHECK(count(all, "rcpt: ") == 125);
    for (int i = 0; i < 250; i += 2) CHECK(count(all, "rcpt: r" + std::to_string(i) + "@a.test\n") == 1);
}

TEST_CASE("a 530 to MAIL (authentication required) with no credentials configured is the site's: the recipients wait, none bounce") {
    spool::smtp_transport smtp{relay_to("authreq")};
    const auto rec = hand_off(smtp, letter("auth-required", {"r1@a.test", "r2@a.test"}));
    CHECK(rec.result.what() == kind::site_failure);
    INFO(rec.result.reason());
    CHECK(rec.result.reason().find("530 5.7.0 Authentication required") != std::string::npos);
    CHECK(rec.result.reason().find("no smtp_credentials are configured") != std::string::npos);
    CHECK(rec.failed.empty());
    CHECK(rec.declined.size() == 2);
    SECTION("with credentials, the same server takes the message") {
        auto o = relay_to("authreq");
        o.credentials = spool::smtp_credentials{"user", "secret", true};
        spool::smtp_transport with_auth{o};
        CHECK(hand_off(with_auth, letter("auth-given", {"r1@a.test"})).sent.size() == 1);
        CHECK(received("authreq", "Subject: auth-given").size() == 1);
    }
}

TEST_CASE("under the spooler: an address the SMTP transport could never send is refused at submit, and nothing is queued") {
    STATIC_REQUIRE(spool::RecipientCheckingTransport<spool::smtp_transport>);
    spool::memory_store store;
    spool::smtp_transport smtp{relay_to("plain")};
    spool::spooler sp{store, smtp};
    auto client = sp.client();
    for (const std::string& bad : {std::string("no-at-sign"), std::string("a b@a.test"), std::string("a>@a.test"),
                                  std::string(300, 'a') + "@a.test"}) {
        INFO(bad);
        CHECK(client.send(letter("refused-at-submit", {"ok@a.test", bad})).error() == spool::errc::invalid_address);
    }
    CHECK(store.outgoing_queue().empty());
    // A recipient of another address type is not the SMTP transport's to check.
    auto fax = letter("fax-unchecked", {"ok@a.test"});
    fax.recipients.push_back({"", "no-at-sign", "FAX"});
    CHECK(client.send(fax).has_value());
    CHECK(store.outgoing_queue().size() == 1);
}

TEST_CASE("a message over the server's SIZE fails with 5.3.4 before any transaction") {
    spool::smtp_transport smtp{relay_to("plain")};
    auto m = letter("too-big", {"ok@a.test"});
    m.payload.body.assign(250'000, 'x'); // the peer's SIZE is 200000
    const auto rec = hand_off(smtp, m);
    CHECK(rec.result.what() == kind::message_failed);
    CHECK(rec.result.diagnostic() == "5.3.4");
    CHECK(rec.result.reason().find("exceeds size limit 200000") != std::string::npos);
    CHECK(received("plain", "Subject: too-big").empty());
}

TEST_CASE("an address that needs SMTPUTF8 goes with it where offered and fails with 5.6.7 where not") {
    const std::string address = "j\xc3\xb6rg@a.test";
    SECTION("offered") {
        spool::smtp_transport smtp{relay_to("plain")};
        const auto rec = hand_off(smtp, letter("utf8-offered", {address}));
        CHECK(rec.sent.size() == 1);
        const auto got = received("plain", "Subject: utf8-offered");
        REQUIRE(got.size() == 1);
        CHECK(got[0].find("SMTPUTF8") != std::string::npos);
    }
    SECTION("not offered (smtp-sink)") {
        spool::smtp_transport smtp{relay_to("sink")};
        const auto rec = hand_off(smtp, letter("utf8-refused", {address}));
        CHECK(rec.result.what() == kind::message_failed);
        CHECK(rec.result.diagnostic() == "5.6.7");
    }
}

TEST_CASE("addresses that could smuggle a command are refused before any server sees them") {
    spool::smtp_transport smtp{relay_to("plain")};
    SECTION("a recipient") {
        const auto rec = hand_off(smtp, letter("bad-syntax", {"a@a.test>\r\nRCPT TO:<evil@a.test", "ok@a.test"}));
        REQUIRE(rec.failed.size() == 1);
        CHECK(std::get<spool::status::failed>(rec.failed[0].status).diagnostic == "5.1.3");
        CHECK(rec.sent.size() == 1);
        const auto got = received("plain", "Subject: bad-syntax");
        REQUIRE(got.size() == 1);
        CHECK(got[0].find("rcpt: evil") == std::string::npos);
        CHECK(got[0].find("\r\nRCPT") == std::string::npos); // in the To: header, its line break became a space
    }
    SECTION("the sender") {
        auto m = letter("bad-sender", {"ok@a.test"});
        m.sender.address = "me@a.test> SIZE=1";
        const auto rec = hand_off(smtp, m);
        CHECK(rec.result.what() == kind::message_failed);
        CHECK(rec.result.diagnostic() == "5.1.7");
    }
}

TEST_CASE("STARTTLS with the certificate checked, then AUTH: PLAIN, or LOGIN where only that is offered") {
    auto o = relay_to("starttls");
    o.relay->host = "localhost";
    o.tls = spool::smtp_tls::verify;
    o.ca_file = (peers_dir() / "cert.pem").string();
    o.credentials = spool::smtp_credentials{"user", "secret"};
    SECTION("PLAIN") {
        spool::smtp_transport smtp{o};
        const auto rec = hand_off(smtp, letter("tls-auth-plain", {"ok@a.test"}));
        CHECK(rec.result.what() == kind::done);
        CHECK(rec.sent.size() == 1);
        const auto got = received("starttls", "Subject: tls-auth-plain");
        REQUIRE(got.size() == 1);
        CHECK(got[0].find("tls: yes") != std::string::npos);
        CHECK(got[0].find("auth: user") != std::string::npos);
    }
    SECTION("LOGIN") {
        o.relay->port = port("login");
        spool::smtp_transport smtp{o};
        const auto rec = hand_off(smtp, letter("tls-auth-login", {"ok@a.test"}));
        CHECK(rec.sent.size() == 1);
        const auto got = received("login", "Subject: tls-auth-login");
        REQUIRE(got.size() == 1);
        CHECK(got[0].find("auth: user") != std::string::npos);
    }
}

TEST_CASE("session failures are site failures: the recipients wait and nothing reaches the server") {
    auto o = relay_to("starttls");
    o.credentials = spool::smtp_credentials{"user", "secret"};
    std::string marker, expected_reason, expected_code;
    SECTION("a certificate that does not chain to a trusted root") {
        o.relay->host = "localhost";
        o.tls = spool::smtp_tls::verify; // no ca_file: the system's roots
        marker = "site-untrusted";
        expected_reason = "TLS handshake failed";
        expected_code = "4.7.5";
    }
    SECTION("a wrong password") {
        o.tls = spool::smtp_tls::required;
        o.credentials->password = "wrong";
        marker = "site-password";
        expected_reason = "authentication failed";
        expected_code = "4.7.0"; // the reason keeps the server's 535 5.7.8; like Postfix's soft bounce, it waits
    }
    SECTION("credentials are not sent without TLS") {
        o.relay->port = port("plain");
        marker = "site-plaintext-auth";
        expected_reason = "without TLS";
        expected_code = "4.7.0";
    }
    SECTION("TLS required and not offered") {
        o.relay->port = port("plain");
        o.credentials.reset();
        o.tls = spool::smtp_tls::required;
        marker = "site-no-starttls";
        expected_reason = "does not offer STARTTLS";
        expected_code = "4.7.4";
    }
    SECTION("a handshake answered with plain text") {
        o.relay->port = port("badtls");
        o.credentials.reset();
        o.tls = spool::smtp_tls::opportunistic;
        marker = "site-bad-tls";
        expected_reason = "TLS handshake failed";
        expected_code = "4.7.5";
    }
    SECTION("a 554 greeting") {
        o.relay->port = port("greet554");
        marker = "site-554";
        expected_reason = "554 5.3.2";
        expected_code = "4.4.0";
    }
    SECTION("nobody listening") {
        o.relay->host = "127.0.0.2";
        marker = "site-refused";
        expected_reason = "refused";
        expected_code = "4.4.1";
    }
    spool::smtp_transport smtp{o};
    const auto rec = hand_off(smtp, letter(marker, {"ok@a.test"}));
    CHECK(rec.result.what() == kind::site_failure);
    INFO(rec.result.reason());
    CHECK(rec.result.reason().find(expected_reason) != std::string::npos);
    CHECK(rec.result.diagnostic() == expected_code);
    CHECK(rec.sent.empty());
    CHECK(rec.failed.empty());
    CHECK(rec.declined.size() == 1); // left to the spooler, which defers it
    CHECK(received("starttls", "Subject: " + marker).empty());
}

TEST_CASE("TLS as configured: implicit from the first byte, opportunistic when offered, plain text when not") {
    auto o = relay_to("implicit");
    std::string listener = "implicit", marker, tls_line;
    SECTION("implicit TLS") {
        o.implicit_tls = true;
        o.tls = spool::smtp_tls::required;
        marker = "tls-implicit";
        tls_line = "tls: yes";
    }
    SECTION("opportunistic, offered") {
        o.relay->port = port(listener = "starttls");
        o.tls = spool::smtp_tls::opportunistic;
        o.credentials = spool::smtp_credentials{"user", "secret"};
        marker = "tls-opportunistic";
        tls_line = "tls: yes";
    }
    SECTION("opportunistic, not offered") {
        o.relay->port = port(listener = "plain");
        o.tls = spool::smtp_tls::opportunistic;
        marker = "tls-not-offered";
        tls_line = "tls: no";
    }
    spool::smtp_transport smtp{o};
    const auto rec = hand_off(smtp, letter(marker, {"ok@a.test"}));
    INFO(rec.result.reason());
    CHECK(rec.sent.size() == 1);
    const auto got = received(listener, "Subject: " + marker);
    REQUIRE(got.size() == 1);
    CHECK(got[0].find(tls_line) != std::string::npos);
}

TEST_CASE("a server that stalls, hangs up or talks nonsense gives a clear outcome, never a lost recipient") {
    auto o = relay_to("stall");
    std::string expected, expected_code = "4.4.2";
    kind expected_kind = kind::site_failure;
    SECTION("no greeting at all: a timeout") {
        o.timeouts.greeting = 300ms;
        expected = "timeout in greeting";
    }
    SECTION("a reply line without a code") {
        o.relay->port = port("garbage");
        expected = "malformed reply from 127.0.0.1: reply line without a reply code";
    }
    SECTION("a 5000-octet reply line") {
        o.relay->port = port("longline");
        expected = "reply line too long";
    }
    SECTION("the connection dropped in the middle of the message data") {
        o.relay->port = port("dropdata");
        expected = "connection closed by 127.0.0.1";
        expected_kind = kind::done;
    }
    SECTION("a hang-up after the end of data, without a reply (smtp-sink -q .)") {
        o.relay->port = port("sink_quit_dot");
        expected = "may have been delivered";
        expected_kind = kind::done;
    }
    SECTION("421 to MAIL, and a hang-up (smtp-sink -Q MAIL): deferred in the server's words and code") {
        o.relay->port = port("sink_421_mail");
        expected = "421 4.0.0 Server closing connection";
        expected_code = "4.0.0";
        expected_kind = kind::done;
    }
    spool::smtp_transport smtp{o};
    const auto rec = hand_off(smtp, letter("faults", {"ok@a.test", "ok2@a.test"}));
    CHECK(rec.result.what() == expected_kind);
    CHECK(rec.sent.empty());
    CHECK(rec.failed.empty());
    if (expected_kind == kind::site_failure) {
        INFO(rec.result.reason());
        CHECK(rec.result.reason().find(expected) != std::string::npos);
        CHECK(rec.declined.size() == 2);
    } else {
        REQUIRE(rec.deferred.size() == 2);
        for (const auto& r : rec.deferred) {
            const auto& d = std::get<spool::status::deferred>(r.status);
            INFO(d.reason);
            CHECK(d.reason.find(expected) != std::string::npos);
            CHECK(d.diagnostic == expected_code);
        }
    }
}

TEST_CASE("each time limit is a deadline for its whole phase: a reply dripped an octet at a time cannot stretch it") {
    // Each drip_<phase> peer sends one phase's reply an octet every 0.1 s,
    // over 4.5 s in all; per read, that is far inside the phase's 1 s.
    struct dripped {
        const char* phase;
        std::chrono::milliseconds spool::smtp_timeouts::*limit;
        const char* expected;
        bool site_failure;
    };
    const dripped cases[] = {
        {"greeting", &spool::smtp_timeouts::greeting, "timeout in greeting", true},
        {"ehlo", &spool::smtp_timeouts::greeting, "timeout in EHLO", true}, // the banner and EHLO share the greeting's limit
        {"auth", &spool::smtp_timeouts::auth, "timeout in AUTH", true},
        {"mail", &spool::smtp_timeouts::mail, "timeout in MAIL", false},
        {"rcpt", &spool::smtp_timeouts::rcpt, "timeout in RCPT", false},
        {"data", &spool::smtp_timeouts::data_init, "timeout in DATA", false},
        {"dot", &spool::smtp_timeouts::data_done, "timeout in end of data", false},
    };
    for (const dripped& c : cases) {
        DYNAMIC_SECTION("the " << c.phase << " reply, dripped") {
            auto o = relay_to(std::string("drip_") + c.phase);
            o.timeouts.*c.limit = 1s;
            o.credentials = spool::smtp_credentials{"user", "secret", true};
            spool::smtp_transport smtp{o};
            const auto rec = hand_off(smtp, letter("drip", {"r1@a.test"}));
            CHECK(rec.sent.empty());
            if (c.site_failure) {
                CHECK(rec.result.what() == kind::site_failure);
                INFO(rec.result.reason());
                CHECK(rec.result.reason().find(c.expected) != std::string::npos);
            } else {
                REQUIRE(rec.deferred.size() == 1);
                const auto& d = std::get<spool::status::deferred>(rec.deferred[0].status);
                INFO(d.reason);
                CHECK(d.reason.find(c.expected) != std::string::npos);
            }
        }
    }
}

TEST_CASE("a server that refuses every RCPT (smtp-sink -f RCPT, without pipelining) fails each recipient with its reply") {
    spool::smtp_transport smtp{relay_to("sink_reject_rcpt")};
    const auto rec = hand_off(smtp, letter("rcpt-refused", {"a@a.test", "b@a.test"}));
    CHECK(rec.result.what() == kind::done);
    REQUIRE(rec.failed.size() == 2);
    for (const auto& r : rec.failed) {
        const auto& f = std::get<spool::status::failed>(r.status);
        CHECK(f.reason.rfind("500 5.3.0", 0) == 0);
        CHECK(f.diagnostic == "5.3.0");
    }
}

TEST_CASE("an idle connection carries the next message to the same destination, until its idle limit") {
    auto peer_of = [](const std::string& marker) {
        const auto got = received("plain", "Subject: " + marker);
        REQUIRE(got.size() == 1);
        const auto at = got[0].find("peer: ");
        return got[0].substr(at, got[0].find('\n', at) - at);
    };
    SECTION("within the limit: one connection") {
        spool::smtp_transport smtp{relay_to("plain")};
        for (int i = 0; i < 3; ++i) CHECK(hand_off(smtp, letter("reuse-" + std::to_string(i), {"ok@a.test"})).sent.size() == 1);
        CHECK(peer_of("reuse-0") == peer_of("reuse-1"));
        CHECK(peer_of("reuse-1") == peer_of("reuse-2"));
    }
    SECTION("past it: a new one") {
        auto o = relay_to("plain");
        o.idle_limit = 1ms;
        spool::smtp_transport smtp{o};
        CHECK(hand_off(smtp, letter("no-reuse-0", {"ok@a.test"})).sent.size() == 1);
        std::this_thread::sleep_for(50ms);
        CHECK(hand_off(smtp, letter("no-reuse-1", {"ok@a.test"})).sent.size() == 1);
        CHECK(peer_of("no-reuse-0") != peer_of("no-reuse-1"));
        // The first connection said QUIT when its idle limit passed.
        bool quit = false;
        for (int i = 0; i < 200 && !quit; ++i, std::this_thread::sleep_for(10ms))
            quit = read_file(peers_dir() / "mail" / "plain" / "quits").find(peer_of("no-reuse-0") + "\n") != std::string::npos;
        CHECK(quit);
    }
}

namespace {
spool::dns_resolver::options loopback_dns() {
    spool::dns_resolver::options dns;
    dns.port = port("plain");
    dns.nameserver = std::pair<std::string, std::uint16_t>{"127.0.0.1", port("dns")};
    return dns;
}

// Where the test holds one domain's lookup: the resolver says when it has
// begun and waits until the test opens the gate. It opens by itself after a
// minute, so that a transport that waited for it still ends; `gave_way`
// then says so.
struct gate {
    std::mutex mutex;
    std::condition_variable changed;
    bool entered = false, open = false, gave_way = false;

    void enter_and_wait() {
        std::unique_lock l{mutex};
        entered = true;
        changed.notify_all();
        if (!changed.wait_for(l, 60s, [&] { return open; })) gave_way = open = true;
    }
    bool wait_entered() {
        std::unique_lock l{mutex};
        return changed.wait_for(l, 60s, [&] { return entered; });
    }
    void let_go() {
        std::lock_guard l{mutex};
        open = true;
        changed.notify_all();
    }
    bool still_closed() {
        std::lock_guard l{mutex};
        return !open;
    }
};

// The loopback name server for every domain but `held`, whose lookup waits at the gate first.
struct gated_resolver {
    std::shared_ptr<gate> g;
    std::string held;
    spool::dns_resolver dns{loopback_dns()};
    spool::smtp_route resolve(std::string_view domain) const {
        if (domain == held) g->enter_and_wait();
        return dns.resolve(domain);
    }
};

// Direct delivery through the loopback name server, with `domain`'s lookup held at `g`.
spool::basic_smtp_transport<gated_resolver> held_at(std::shared_ptr<gate> g, std::string domain) {
    auto o = relay_to("plain");
    o.relay.reset();
    return spool::basic_smtp_transport<gated_resolver>{o, gated_resolver{std::move(g), std::move(domain)}};
}

// Opens the gate when the test leaves, whatever way: the transport's
// destructor joins its lookup threads.
struct let_go_at_exit {
    std::shared_ptr<gate> g;
    ~let_go_at_exit() { g->let_go(); }
};

// Waits for the spooler to have sent `n` messages; false after a minute.
template <class Client>
bool sent(Client& client, std::size_t n) {
    for (int i = 0; i < 6000; ++i, std::this_thread::sleep_for(10ms))
        if (client.contents(spool::folders::sent_items).size() >= n) return true;
    return false;
}
} // namespace

TEST_CASE("without a relay, MX records from a real name server choose the next hop (RFC 5321 section 5, RFC 7505)") {
    const auto dns = loopback_dns();
    auto o = relay_to("plain");
    o.relay.reset();
    spool::basic_smtp_transport<spool::dns_resolver> smtp{o, spool::dns_resolver{dns}};
    CHECK(smtp.destination(spool_test::smtp("Someone@MX.Test")) == "mx.test");
    SECTION("the preferred exchanger refuses; the next one takes it") {
        const auto rec = hand_off(smtp, letter("mx-order", {"ok@mx.test"}));
        INFO(rec.result.reason());
        CHECK(rec.sent.size() == 1);
        CHECK(received("plain", "Subject: mx-order").size() == 1);
    }
    SECTION("a recipient the first MX defers goes to the next one; one it refuses for good does not") {
        const auto rec = hand_off(smtp, letter("mx-next", {"ok@mx2.test", "tmp@mx2.test", "bad@mx2.test"}));
        INFO(rec.result.reason());
        CHECK(rec.sent.size() == 2);
        REQUIRE(rec.failed.size() == 1);
        CHECK(rec.failed[0].address == "bad@mx2.test");
        const auto first = received("plain", "Subject: mx-next");
        const auto second = received("backup", "Subject: mx-next");
        REQUIRE(first.size() == 1);
        REQUIRE(second.size() == 1);
        CHECK(first[0].find("rcpt: ok@mx2.test") != std::string::npos);
        CHECK(first[0].find("rcpt: tmp@") == std::string::npos);
        CHECK(second[0].find("rcpt: tmp@mx2.test") != std::string::npos);
        CHECK(count(second[0], "rcpt: ") == 1);
    }
    SECTION("no MX: the domain's own address") {
        CHECK(hand_off(smtp, letter("mx-implicit", {"ok@nomx.test"})).sent.size() == 1);
    }
    SECTION("a null MX: the domain takes no mail") {
        const auto rec = hand_off(smtp, letter("mx-null", {"ok@nullmx.test"}));
        REQUIRE(rec.failed.size() == 1);
        CHECK(std::get<spool::status::failed>(rec.failed[0].status).diagnostic == "5.1.10");
    }
    SECTION("no such domain") {
        const auto rec = hand_off(smtp, letter("mx-missing", {"ok@missing.test"}));
        REQUIRE(rec.failed.size() == 1);
        CHECK(std::get<spool::status::failed>(rec.failed[0].status).diagnostic == "5.1.2");
    }
}

TEST_CASE("a lookup that stalls holds up no other domain's: lookups run side by side") {
    auto g = std::make_shared<gate>();
    spool::spooler sp{spool::memory_store{}, held_at(g, "nomx.test")};
    let_go_at_exit release{g}; // before sp goes: its transport joins the lookup threads
    auto client = sp.client();
    REQUIRE(client.send(letter("lookup-held", {"ok@nomx.test"})));
    sp.start();
    REQUIRE(g->wait_entered());
    // Only now, with the first lookup held, the second message.
    REQUIRE(client.send(letter("lookup-free", {"ok@mx.test"})));
    CHECK(sent(client, 1));
    CHECK(g->still_closed());
    CHECK(received("plain", "Subject: lookup-free").size() == 1);
    CHECK(received("plain", "Subject: lookup-held").empty());
    g->let_go();
    CHECK(sent(client, 2));
    sp.stop();
    CHECK(received("plain", "Subject: lookup-held").size() == 1);
    CHECK_FALSE(g->gave_way);
}

TEST_CASE("stop() does not wait for a stalled lookup: the hand-off ends cancelled, and the message stays queued") {
    auto g = std::make_shared<gate>();
    spool::spooler sp{spool::memory_store{}, held_at(g, "nomx.test")};
    let_go_at_exit release{g}; // before sp goes: its transport joins the lookup threads
    sp.stop_deadline(100ms);
    auto client = sp.client();
    const auto id = client.send(letter("lookup-stopped", {"ok@nomx.test"}));
    REQUIRE(id);
    sp.start();
    REQUIRE(g->wait_entered());
    sp.stop();
    // stop() returned while the lookup was still held: it did not wait for it.
    CHECK(g->still_closed());
    CHECK_FALSE(g->gave_way);
    const auto stored = client.open(*id);
    REQUIRE(stored);
    CHECK(stored->submitted());
    CHECK_FALSE(stored->recipients[0].settled());
    for (const auto& h : sp.destinations()) CHECK(h.consecutive_failures == 0);
}

TEST_CASE("a name server that does not answer: the lookup fails in the resolver's time, and the site waits (4.4.3)") {
    // A UDP socket that is never read: a name server that says nothing.
    boost::asio::io_context io;
    boost::asio::ip::udp::socket silent{io, {boost::asio::ip::make_address("127.0.0.1"), 0}};
    auto dns = loopback_dns();
    dns.nameserver->second = silent.local_endpoint().port();
    dns.timeout = 1s;
    dns.attempts = 1;
    auto o = relay_to("plain");
    o.relay.reset();
    spool::basic_smtp_transport<spool::dns_resolver> smtp{o, spool::dns_resolver{dns}};
    const auto rec = hand_off(smtp, letter("lookup-silent", {"ok@mx.test"}));
    CHECK(rec.result.what() == kind::site_failure);
    CHECK(rec.result.diagnostic() == "4.4.3");
    CHECK(rec.result.reason().find("MX lookup for mx.test failed") != std::string::npos);
    CHECK(rec.sent.empty());
    CHECK(rec.failed.empty());
}

TEST_CASE("the static resolver and the relay name the destination and where it goes") {
    auto o = relay_to("plain");
    spool::smtp_transport relayed{o};
    CHECK(relayed.destination(spool_test::smtp("x@Any.Test")) == "[127.0.0.1]:" + std::to_string(port("plain")));
    o.relay.reset();
    spool::smtp_transport mapped{o, spool::static_resolver{{{"mapped.test", {spool::smtp_host{"127.0.0.1", port("plain")}}}}}};
    CHECK(mapped.destination(spool_test::smtp("x@Mapped.Test")) == "mapped.test");
    CHECK(hand_off(mapped, letter("static-map", {"ok@mapped.test"})).sent.size() == 1);
}

TEST_CASE("under the spooler: the server's refusal in the non-delivery report, relayed in the delivery report, "
          "and a Message-ID stored at submit") {
    spool::spooler sp{spool::memory_store{}, spool::message_id_stamp{"spool.test"}, spool::smtp_transport{relay_to("nodsn")}};
    auto client = sp.client();
    auto m = letter("under-spooler", {"ok@a.test", "bad@a.test"});
    m.id = {};
    m.reports.delivery = true;
    const auto id = client.send(m);
    REQUIRE(id);
    sp.drain();
    const auto stored = client.open(*id);
    REQUIRE(stored);
    const std::string* message_id = nullptr;
    for (const auto& [name, value] : stored->payload.headers)
        if (name == "Message-ID") message_id = &value;
    REQUIRE(message_id);
    const auto got = received("nodsn", "Subject: under-spooler");
    REQUIRE(got.size() == 1);
    CHECK(got[0].find("Message-ID: " + *message_id) != std::string::npos);

    std::string ndr, dr;
    for (const auto report_id : client.contents(spool::folders::inbox)) {
        const auto r = client.open(report_id);
        REQUIRE(r);
        if (!r->report) continue;
        (r->report->kind == spool::report_kind::delivery ? dr : ndr) = spool::render_delivery_status(*r);
    }
    CHECK(ndr.find("Diagnostic-Code: smtp; 550 5.1.1 <bad@a.test>") != std::string::npos);
    CHECK(ndr.find("Status: 5.1.1") != std::string::npos);
    CHECK(dr.find("Action: relayed") != std::string::npos);
}

TEST_CASE("under the spooler: many messages through smtp-sink, many connections at once") {
    spool::spooler sp{spool::memory_store{}, spool::smtp_transport{relay_to("sink")}};
    sp.limits<spool::smtp_transport>({.max_in_flight = 16, .destination_concurrency = 8});
    auto client = sp.client();
    constexpr int messages = 300;
    for (int i = 0; i < messages; ++i) REQUIRE(client.send(letter("sink-batch", {"ok@a.test"})));
    sp.drain();
    CHECK(client.contents(spool::folders::sent_items).size() == messages);
    CHECK(client.contents(spool::folders::outbox).empty());
    CHECK(received("sink", "Subject: sink-batch").size() == messages);
}

TEST_CASE("stop() cuts a session that hangs, and the message stays queued") {
    auto o = relay_to("stall"); // 10 s limits: stop's deadline comes first
    spool::spooler sp{spool::memory_store{}, spool::smtp_transport{o}};
    sp.stop_deadline(100ms);
    auto client = sp.client();
    const auto id = client.send(letter("stalled", {"ok@a.test"}));
    REQUIRE(id);
    sp.start();
    for (int i = 0; i < 500 && sp.in_flight() == 0; ++i) std::this_thread::sleep_for(10ms);
    REQUIRE(sp.in_flight() == 1);
    sp.stop();
    const auto stored = client.open(*id);
    REQUIRE(stored);
    CHECK(stored->submitted());
    const auto& r = stored->recipients[0];
    CHECK_FALSE(r.settled());
    // Cut by stop(), not by the 10 s greeting limit (which would be a site failure).
    if (const auto* d = std::get_if<spool::status::deferred>(&r.status)) CHECK(d->reason.find("timeout") == std::string::npos);
    for (const auto& h : sp.destinations()) CHECK(h.consecutive_failures == 0);
}

TEST_CASE("a server that refuses EHLO gets HELO, and plain SMTP without extensions (smtp-sink -e)") {
    spool::smtp_transport smtp{relay_to("sink_no_esmtp")};
    const auto rec = hand_off(smtp, letter("helo-fallback", {"ok@a.test"}));
    CHECK(rec.result.what() == kind::done);
    REQUIRE(rec.sent.size() == 1);
    // Without EHLO there is no DSN: spool's own delivery report would say relayed.
    CHECK(std::get<spool::status::sent>(rec.sent[0].status).action == spool::delivery_action::relayed);
}

namespace {
// A user's own payload and its renderer: 8-bit text, as it is.
struct note {
    std::string text;
};
struct note_renderer {
    std::string operator()(const spool::basic_message<note>& m) const {
        return "Subject: " + m.payload.text + "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + m.payload.text + "\r\n";
    }
};
spool::basic_message<note> note_to(const std::string& text, const std::string& address) {
    spool::basic_message<note> m;
    m.sender = {"", "sender@spool.test", "SMTP"};
    m.recipients.push_back(spool_test::smtp(address));
    m.payload.text = text + "." + run_token();
    return m;
}
} // namespace

TEST_CASE("a payload of the user's own goes out through the user's renderer, 8-bit with BODY=8BITMIME where offered") {
    using note_transport = spool::basic_smtp_transport<spool::static_resolver, note_renderer>;
    SECTION("offered") {
        note_transport smtp{relay_to("plain")};
        const auto rec = hand_off(smtp, note_to("own-renderer K\xc3\xb6ln", "ok@a.test"));
        CHECK(rec.sent.size() == 1);
        const auto got = received("plain", "Subject: own-renderer K\xc3\xb6ln");
        REQUIRE(got.size() == 1);
        CHECK(got[0].find("BODY=8BITMIME") != std::string::npos);
    }
    SECTION("not offered (smtp-sink -8): 5.6.3, as nothing converts it") {
        note_transport smtp{relay_to("sink_no_8bit")};
        const auto rec = hand_off(smtp, note_to("own-renderer-8bit K\xc3\xb6ln", "ok@a.test"));
        CHECK(rec.result.what() == kind::message_failed);
        CHECK(rec.result.diagnostic() == "5.6.3");
    }
}

TEST_CASE("the transport runs on an io_context the user runs") {
    boost::asio::io_context io;
    auto work = boost::asio::make_work_guard(io);
    std::thread runner([&] { io.run(); });
    {
        spool::smtp_transport smtp{io, relay_to("plain")};
        CHECK(hand_off(smtp, letter("users-io-context", {"ok@a.test"})).sent.size() == 1);
    }
    work.reset();
    runner.join();
    CHECK(received("plain", "Subject: users-io-context").size() == 1);
}

TEST_CASE("under the spooler: a destination whose sessions fail is counted down, with the server's words") {
    spool::spooler sp{spool::memory_store{}, spool::smtp_transport{relay_to("greet554")}};
    auto client = sp.client();
    const auto id = client.send(letter("site-health", {"ok@a.test"}));
    REQUIRE(id);
    sp.drain();
    const auto health = sp.destinations();
    REQUIRE(health.size() == 1);
    CHECK(health[0].destination == "[127.0.0.1]:" + std::to_string(port("greet554")));
    CHECK(health[0].consecutive_failures == 1);
    CHECK(health[0].what == spool::destination_health::state::down);
    CHECK(health[0].last_error.find("554 5.3.2 greet554 is not accepting mail") != std::string::npos);
    const auto stored = client.open(*id);
    REQUIRE(stored);
    CHECK(stored->recipients[0].is_deferred());
}

TEST_CASE("a message of many write blocks arrives whole, dot-stuffed lines and all") {
    spool::smtp_transport smtp{relay_to("plain")};
    auto m = letter("large", {"ok@a.test"});
    m.payload.body.clear();
    for (int i = 0; i < 3000; ++i) m.payload.body += (i % 7 == 0 ? "." : "") + std::string(50, 'a' + i % 26) + "\n"; // about 150 KB
    REQUIRE(hand_off(smtp, m).sent.size() == 1);
    const auto got = received("plain", "Subject: large");
    REQUIRE(got.size() == 1);
    std::string expected;
    for (int i = 0; i < 3000; ++i) expected += (i % 7 == 0 ? "." : "") + std::string(50, 'a' + i % 26) + "\r\n";
    CHECK(got[0].ends_with("\r\n\r\n" + expected));
}
