// The RFC 3464 rendering of reports: what mail software reads in it (Python's
// email parser, GNU Mailman's bounce detector), and that nothing a sender or a
// recipient controls can add a header or a MIME part to it.

#include "catch.hpp"
#include "support/fixtures.hpp"
#include "support/reports.hpp"

#include <spool/mail/rfc3464.hpp>
#include <spool/spool.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <functional>
#include <string>
#include <vector>

#include <unistd.h>

using namespace std::chrono_literals;
using spool_test::from_ann;
using spool_test::mail;
using spool_test::reports_in;
using spool_test::smtp;

namespace {

/// What tests/support/parse_dsn.py found in a rendered report, as JSON; empty
/// if Python failed (it then says why on standard error). With `bounce`, GNU
/// Mailman's detector is asked too. Python is SPOOL_TEST_PYTHON, the one that
/// tests/CMakeLists.txt found can import flufl.bounce.
std::string python_reads(const std::string& rendered, bool bounce = false) {
    static int counter = 0;
    // Named for this process: CTest runs several test processes in one directory.
    const std::string path = "spool-dsn-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".eml";
    std::ofstream(path, std::ios::binary) << rendered;
    const std::string command = std::string(SPOOL_TEST_PYTHON) + " " + SPOOL_TEST_SUPPORT_DIR + "/parse_dsn.py " +
                                (bounce ? "--bounce " : "") + path;
    std::FILE* pipe = popen(command.c_str(), "r");
    std::string json;
    if (!pipe) return json;
    char buffer[4096];
    while (std::fgets(buffer, sizeof buffer, pipe)) json += buffer;
    const int status = pclose(pipe);
    std::remove(path.c_str());
    return status == 0 ? json : std::string{};
}


// The non-delivery report the spooler makes for `m`, rendered. `queued`, when
// given, changes the message in the store once it is queued, past submit's
// checks, as a preprocessor or an older spool could have written it.
std::string rendered_ndr(spool::message m, spool::address_types taken = {"SMTP"},
                         std::function<void(spool::message&)> queued = {}) {
    spool::memory_store store;
    spool::memory_transport transport{std::move(taken)};
    transport.reject("gone@x");
    spool::manual_clock clock;
    spool::spooler sp{store, transport, clock};
    const auto id = sp.client().send(m);
    REQUIRE(id);
    if (queued) {
        auto stored = store.load(*id).value();
        queued(stored);
        REQUIRE_FALSE(store.save(*id, stored));
    }
    sp.drain();
    for (const auto& report : reports_in(store))
        if (report.report->kind == spool::report_kind::non_delivery) return spool::render_delivery_status(report);
    FAIL("no non-delivery report");
    return {};
}

// Every line ends in CR LF, and no CR or LF stands anywhere else.
bool crlf_only(const std::string& s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\r' && (i + 1 >= s.size() || s[i + 1] != '\n')) return false;
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return false;
    }
    return true;
}

} // namespace

TEST_CASE_METHOD(spool_test::rig, "the RFC 3464 rendering is read by Python's email parser") {
    transport.reject("gone@x");
    auto m = from_ann({smtp("gone@x"), smtp("bob@x")}, "line\r\nInjected: header");
    m.reports.delivery = true;
    m.payload.body = "the figures";
    client.send(m);
    sp.drain();
    for (const auto& report : reports_in(store)) {
        const bool ndr = report.report->kind == spool::report_kind::non_delivery;
        const std::string json = python_reads(spool::render_delivery_status(report));
        REQUIRE_FALSE(json.empty());
        CHECK_THAT(json, ContainsSubstring(R"("content_type": "multipart/report")"));
        CHECK_THAT(json, ContainsSubstring(R"("report_type": "delivery-status")"));
        CHECK_THAT(json, ContainsSubstring(R"("defects": 0)"));
        CHECK_THAT(json, ContainsSubstring(R"("Reporting-MTA": "dns; localhost")"));
        CHECK_THAT(json, !ContainsSubstring(R"("Injected")")); // the CR LF in the subject did not make a header
        if (ndr) {
            CHECK_THAT(json, ContainsSubstring(R"("Final-Recipient": "rfc822; gone@x")"));
            CHECK_THAT(json, ContainsSubstring(R"("Action": "failed")"));
            CHECK_THAT(json, ContainsSubstring(R"("Status": "5.1.1")"));
            CHECK_THAT(json, ContainsSubstring(R"("Diagnostic-Code": "X-Spool; mailbox unavailable")"));
            CHECK_THAT(json, ContainsSubstring(R"("original_subject": "line  Injected: header")"));
        } else {
            CHECK_THAT(json, ContainsSubstring(R"("Final-Recipient": "rfc822; bob@x")"));
            CHECK_THAT(json, ContainsSubstring(R"("Action": "delivered")"));
            CHECK_THAT(json, ContainsSubstring(R"("Status": "2.0.0")"));
        }
    }
}

TEST_CASE("a non-delivery report carries the sender's own MIME message whole, and names its subject") {
    auto m = from_ann({smtp("gone@x")});
    m.payload.subject.clear();
    m.payload.mime = "From: ann@x\r\nSubject: =?UTF-8?B?R3LDvMOfZQ==?=\r\nMIME-Version: 1.0\r\n"
                     "Content-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n"
                     "--inner\r\nContent-Type: text/plain\r\n\r\nhi\r\n--inner\r\nContent-Type: text/html\r\n\r\n"
                     "<p>hi</p>\r\n--inner--\r\n";
    const std::string text = rendered_ndr(m);
    CHECK(crlf_only(text));
    const auto json = python_reads(text);
    REQUIRE_FALSE(json.empty());
    CHECK_THAT(json, ContainsSubstring(R"("defects": 0)"));
    CHECK_THAT(json, ContainsSubstring(R"("subject": "Undeliverable: Gr\u00fc\u00dfe")"));
    CHECK_THAT(json, ContainsSubstring(R"("original_subject": "Gr\u00fc\u00dfe")"));
    CHECK_THAT(json, ContainsSubstring(R"("original_headers": ["From", "Subject", "MIME-Version", "Content-Type"])"));
}

TEST_CASE("rendering a message that is not a report is refused") {
    CHECK_THROWS_AS(spool::render_delivery_status(mail({smtp("a@x")})), std::invalid_argument);
}

TEST_CASE("a diagnostic that is not an RFC 3463 code is rendered as 5.0.0") {
    CHECK(spool::detail::is_status_code("5.1.1"));
    CHECK(spool::detail::is_status_code("4.4.17"));
    CHECK_FALSE(spool::detail::is_status_code("550"));
    CHECK_FALSE(spool::detail::is_status_code("5..1"));
    CHECK_FALSE(spool::detail::is_status_code("3.1.1"));
}


TEST_CASE("an address type with a line break cannot add a field to the delivery status") {
    // No transport takes this type, so the spooler fails it with 5.4.4 and reports it.
    auto m = from_ann({{"Eve", "eve@x", "FAX\r\nAction: delivered\r\nX-Forged: yes"}});
    const auto text = rendered_ndr(m);
    CHECK(crlf_only(text));
    const auto json = python_reads(text);
    REQUIRE_FALSE(json.empty());
    CHECK_THAT(json, ContainsSubstring(R"("recipients": [{"Final-Recipient": "x-faxactiondeliveredx-forgedyes; eve@x", )"
                                       R"("Action": "failed", "Status": "5.4.4")"));
    CHECK_THAT(json, !ContainsSubstring("X-Forged\""));
    CHECK_THAT(json, !ContainsSubstring(R"("Action": "delivered")"));
    CHECK_THAT(json, ContainsSubstring(R"("defects": 0)"));
}

TEST_CASE("an original's body cannot end the report's parts or add one, whatever boundary it guesses") {
    auto m = from_ann({smtp("gone@x")});
    // The boundary a report for this message would have used, had it not looked at the parts.
    spool::memory_store store;
    spool::memory_transport transport{{"SMTP"}};
    transport.reject("gone@x");
    spool::manual_clock clock;
    clock.advance(1000s);
    spool::spooler sp{store, transport, clock};
    const std::string guessed = "spool-dsn-1-" + std::to_string(clock.now().time_since_epoch().count());
    // Bare LF and bare CR line breaks, and a forged status part behind every guess.
    std::string forged;
    for (const std::string& b : {guessed, guessed + "=1", guessed + "=2"})
        forged += "\n--" + b + "\rContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; gone@x\n"
                  "Action: delivered\nStatus: 2.0.0\n";
    m.payload.body = "the figures" + forged;
    REQUIRE(sp.client().send(m).value() == spool::message_id{1}); // the id the guess assumed
    sp.drain();
    const auto reports = reports_in(store);
    REQUIRE(reports.size() == 1);
    const auto text = spool::render_delivery_status(reports.front());
    CHECK(crlf_only(text));
    const auto json = python_reads(text);
    REQUIRE_FALSE(json.empty());
    CHECK_THAT(json, ContainsSubstring(R"("parts": ["text/plain", "message/delivery-status", "message/rfc822"])"));
    CHECK_THAT(json, ContainsSubstring(R"("recipients": [{"Final-Recipient": "rfc822; gone@x", "Action": "failed")"));
    CHECK_THAT(json, !ContainsSubstring(R"("Action": "delivered")"));
    CHECK_THAT(json, ContainsSubstring("Action: delivered\\nStatus: 2.0.0")); // still there, as the original's text
    CHECK_THAT(json, ContainsSubstring(R"("defects": 0)"));
}

TEST_CASE("a chosen boundary that the parts contain is made unique too, and one with characters MIME forbids is cleaned") {
    auto m = from_ann({smtp("gone@x")});
    m.payload.body = "--fixed\r\n";
    spool::memory_store store;
    spool::memory_transport transport{{"SMTP"}};
    transport.reject("gone@x");
    spool::spooler sp{store, transport, spool::manual_clock{}};
    sp.client().send(m);
    sp.drain();
    const auto report = reports_in(store).at(0);
    spool::dsn_options options;
    options.boundary = "fixed";
    CHECK_THAT(spool::render_delivery_status(report, options), ContainsSubstring("boundary=\"fixed=1\""));
    options.boundary = "a\"b\r\nc";
    CHECK_THAT(spool::render_delivery_status(report, options), ContainsSubstring("boundary=\"abc\""));
}

TEST_CASE("header names of the original that are not RFC 5322 field names are left out of the report") {
    // Submit refuses them (errc::invalid_header_value); a message may still
    // carry them from a preprocessor, or from before that check.
    const auto text = rendered_ndr(from_ann({smtp("gone@x")}), {"SMTP"}, [](spool::message& m) {
        m.payload.headers = {{"", "an empty name"},
                             {"\x01Control", "a control character first"},
                             {" Folded", "would continue the line before"},
                             {"Two Words", "a space"},
                             {"Colon:Inside", "a colon"},
                             {"X-Kept", "a good one"}};
    });
    CHECK(crlf_only(text));
    const auto json = python_reads(text);
    REQUIRE_FALSE(json.empty());
    CHECK_THAT(json, ContainsSubstring(R"("original_headers": ["From", "To", "Date", "Subject", "X-Kept"])"));
    CHECK_THAT(json, ContainsSubstring(R"("defects": 0)"));
}

TEST_CASE("a report carries a Message-ID and Auto-Submitted, as mail systems' bounces do") {
    const auto json = python_reads(rendered_ndr(from_ann({smtp("gone@x")})));
    REQUIRE_FALSE(json.empty());
    CHECK_THAT(json, ContainsSubstring(R"("message_id": "<spool-dsn.1.ndr.)"));
    CHECK_THAT(json, ContainsSubstring(R"(@localhost>")"));
    CHECK_THAT(json, ContainsSubstring(R"("auto_submitted": "auto-replied")"));
}

TEST_CASE("GNU Mailman's bounce detector finds every failed recipient as a permanent failure") {
    spool::memory_store store;
    spool::memory_transport transport{{"SMTP"}};
    for (const char* gone : {"gone@x", "moved@y.example", "closed@z.example"}) transport.reject(gone);
    spool::spooler sp{store, transport, spool::manual_clock{}};
    sp.client().send(from_ann({smtp("gone@x"), smtp("bob@x"), smtp("moved@y.example"), smtp("closed@z.example")}));
    sp.drain();
    const auto reports = reports_in(store);
    REQUIRE(reports.size() == 1);
    const auto json = python_reads(spool::render_delivery_status(reports.front()), true);
    REQUIRE_FALSE(json.empty());
    CHECK_THAT(json, ContainsSubstring(R"("bounce_temporary": [])"));
    CHECK_THAT(json, ContainsSubstring(R"("bounce_permanent": ["closed@z.example", "gone@x", "moved@y.example"])"));
}

TEST_CASE("dates are RFC 5322 date-times in UTC") {
    using spool::detail::rfc5322_date;
    CHECK(rfc5322_date(spool::time_point{}) == "Thu, 01 Jan 1970 00:00:00 +0000");
    CHECK(rfc5322_date(spool::time_point{std::chrono::seconds{1700000000}}) == "Tue, 14 Nov 2023 22:13:20 +0000");
    CHECK(rfc5322_date(spool::time_point{std::chrono::seconds{1709164800} + std::chrono::milliseconds{999}}) ==
          "Thu, 29 Feb 2024 00:00:00 +0000");
    CHECK(rfc5322_date(spool::time_point{std::chrono::seconds{-1}}) == "Wed, 31 Dec 1969 23:59:59 +0000");
}

namespace {
// The delayed-delivery report the spooler makes for a message to bob@x, sent,
// and slow@x, greylisted for longer than the warning time.
spool::message delayed_report() {
    spool::memory_store store;
    spool_test::greylisting grey;
    grey.waiting->insert("slow@x");
    spool::manual_clock clock{spool::time_point{std::chrono::seconds{1'700'000'000}}};
    spool::spooler sp{store, grey, clock, spool::exponential_backoff{10min, 10min, 24h}, spool::delay_warning{1h}};
    REQUIRE(sp.client().send(from_ann({smtp("bob@x"), smtp("slow@x")})));
    for (int i = 0; i <= 6; ++i) {
        sp.drain();
        clock.advance(10min);
    }
    auto reports = reports_in(store);
    REQUIRE(reports.size() == 1);
    return reports.front();
}
} // namespace

TEST_CASE("a delayed-delivery report says Action: delayed, the deferral's code and reply, and Will-Retry-Until") {
    const std::string rendered = spool::render_delivery_status(delayed_report());
    CHECK(crlf_only(rendered));
    const auto json = python_reads(rendered);
    REQUIRE_FALSE(json.empty());
    CHECK_THAT(json, ContainsSubstring(R"("defects": 0)"));
    CHECK_THAT(json, ContainsSubstring(R"("subject": "Delivery delayed: quarterly figures")"));
    CHECK_THAT(json, ContainsSubstring(R"("parts": ["text/plain", "message/delivery-status", "text/rfc822-headers"])"));
    CHECK_THAT(json, ContainsSubstring(R"("message_id": "<spool-dsn.1.delay.)"));
    CHECK_THAT(json, ContainsSubstring(R"("Final-Recipient": "rfc822; slow@x")"));
    CHECK_THAT(json, !ContainsSubstring(R"(bob@x)"));
    CHECK_THAT(json, ContainsSubstring(R"("Action": "delayed")"));
    CHECK_THAT(json, ContainsSubstring(R"("Status": "4.7.1")"));
    CHECK_THAT(json, ContainsSubstring(R"("Diagnostic-Code": "smtp; 450 4.7.1 <slow@x>: greylisted, try again later")"));
    // Submitted at 1,700,000,000 s; the lifetime is a day.
    CHECK_THAT(json, ContainsSubstring(R"("Will-Retry-Until": "Wed, 15 Nov 2023 22:13:20 +0000")"));
    CHECK_THAT(rendered, ContainsSubstring("This is a warning only"));
    CHECK_THAT(rendered, ContainsSubstring("Subject: quarterly figures\r\n")); // the original's, in its headers part
}

TEST_CASE("GNU Mailman's bounce detector does not count a delay as a failure") {
    const auto json = python_reads(spool::render_delivery_status(delayed_report()), true);
    REQUIRE_FALSE(json.empty());
    CHECK_THAT(json, ContainsSubstring(R"("bounce_permanent": [])"));
    CHECK_THAT(json, ContainsSubstring(R"("bounce_temporary": ["slow@x"])"));
}

TEST_CASE("a delay report's status is a transient code: a deferral without one, or with a permanent one, says 4.0.0") {
    auto report = delayed_report();
    for (const char* diagnostic : {"", "5.1.1", "not a code"}) {
        report.report->entries[0].diagnostic = diagnostic;
        report.report->entries[0].reason.clear();
        const auto json = python_reads(spool::render_delivery_status(report));
        REQUIRE_FALSE(json.empty());
        CHECK_THAT(json, ContainsSubstring(R"("Status": "4.0.0")"));
        CHECK_THAT(json, ContainsSubstring(R"("Diagnostic-Code": "X-Spool; not delivered yet")"));
    }
}
