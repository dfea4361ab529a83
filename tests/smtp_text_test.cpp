// The SMTP transport's text, without a server: what it reads (replies), what
// it writes (message data), and how spool::message becomes RFC 5322 mail.
// Replies and data are spool's internals; the parser is reached through
// detail:: because a fuzzer and these tests are its only direct users.

#include "catch.hpp"
#include "support/fixtures.hpp"

#include <spool/mail/codec.hpp>
#include <spool/smtp/detail/reply.hpp>
#include <spool/smtp/detail/wire.hpp>
#include <spool/mail/rfc3464.hpp>
#include <spool/testing/transport_kit.hpp>
#include <spool/smtp/message.hpp>

#include <string>

namespace smtp = spool::detail::smtp;

TEST_CASE("a reply is read whole: one line, many lines, pipelined replies one at a time") {
    smtp::reply r;
    auto p = smtp::parse_reply("250 2.1.0 Ok\r\n", r);
    CHECK(p.status == smtp::parse_status::complete);
    CHECK(r.code == 250);
    CHECK(r.enhanced == "2.1.0");
    CHECK(r.line() == "250 2.1.0 Ok");

    const std::string ehlo = "250-mx.test\r\n250-PIPELINING\r\n250 SIZE 1000\r\n354 go\r\n";
    p = smtp::parse_reply(ehlo, r);
    REQUIRE(p.status == smtp::parse_status::complete);
    CHECK(r.lines.size() == 3);
    CHECK(r.lines[2] == "SIZE 1000");
    p = smtp::parse_reply(std::string_view(ehlo).substr(p.used), r);
    CHECK(p.status == smtp::parse_status::complete);
    CHECK(r.code == 354);
    CHECK(r.enhanced == "5.5.0"); // not a 2/4/5 class: Postfix's rule

    CHECK(smtp::parse_reply("250-first\r\n250 sec", r).status == smtp::parse_status::need_more);
    CHECK(smtp::parse_reply("", r).status == smtp::parse_status::need_more);
    CHECK(smtp::parse_reply("220\n", r).status == smtp::parse_status::complete); // bare LF, no text
}

TEST_CASE("the enhanced status code is kept only when its class is the reply's, as Postfix does") {
    smtp::reply r;
    smtp::parse_reply("550 5.1.1 <a@b>: unknown\r\n", r);
    CHECK(r.enhanced == "5.1.1");
    smtp::parse_reply("550 4.1.1 mismatched\r\n", r);
    CHECK(r.enhanced == "5.0.0");
    smtp::parse_reply("451 try later\r\n", r);
    CHECK(r.enhanced == "4.0.0");
    smtp::parse_reply("250 2.0.0\r\n", r);
    CHECK(r.enhanced == "2.0.0");
}

TEST_CASE("a malformed reply is an error, never a crash or an endless buffer") {
    smtp::reply r;
    CHECK(smtp::parse_reply("hello\r\n", r).status == smtp::parse_status::malformed);
    CHECK(smtp::parse_reply("25\r\n", r).status == smtp::parse_status::malformed);
    CHECK(smtp::parse_reply("250x\r\n", r).status == smtp::parse_status::malformed);
    CHECK(smtp::parse_reply("650 no such class\r\n", r).status == smtp::parse_status::malformed);
    CHECK(smtp::parse_reply("250-a\r\n251 b\r\n", r).status == smtp::parse_status::malformed);
    CHECK(smtp::parse_reply(std::string(3000, '2'), r).status == smtp::parse_status::malformed);
    std::string endless;
    for (int i = 0; i < 200; ++i) endless += "250-more\r\n";
    CHECK(smtp::parse_reply(endless, r).status == smtp::parse_status::malformed);
    CHECK(std::string(smtp::parse_reply("250-a\r\n251 b\r\n", r).error) == "reply lines with different codes");
}

TEST_CASE("message data: CR LF only, dot-stuffed, no line over 998 octets, ended by a lone dot") {
    std::string out;
    smtp::append_data(out, "a\n.b\r\n..c\rd\r\n");
    CHECK(out == "a\r\n..b\r\n...c\r\nd\r\n.\r\n");

    SECTION("bare CR and LF can never make the end of data early (SMTP smuggling)") {
        std::string smuggle;
        smtp::append_data(smuggle, "x\n.\nMAIL FROM:<evil@x>\r.\r");
        CHECK(smuggle == "x\r\n..\r\nMAIL FROM:<evil@x>\r\n..\r\n.\r\n");
        CHECK(smuggle.find("\r\n.\r\n") == smuggle.size() - 5); // the only end of data is the last
    }
    SECTION("a long line is broken as folding") {
        std::string long_line;
        smtp::append_data(long_line, std::string(2000, 'x'));
        std::size_t longest = 0, start = 0;
        for (auto p = long_line.find("\r\n"); p != std::string::npos; start = p + 2, p = long_line.find("\r\n", start))
            longest = std::max(longest, p - start);
        CHECK(longest == 998);
        CHECK(long_line.find("\r\n ") != std::string::npos);
    }
    SECTION("text without a final line end gets one") {
        std::string s;
        smtp::append_data(s, "no end");
        CHECK(s == "no end\r\n.\r\n");
    }
}

TEST_CASE("addresses that fit in MAIL and RCPT, and xtext") {
    CHECK(smtp::is_path_address("a@b.test"));
    CHECK_FALSE(smtp::is_path_address("a b@c.test"));
    CHECK_FALSE(smtp::is_path_address("a@b>\r\nDATA"));
    CHECK_FALSE(smtp::is_path_address("nobody"));
    CHECK_FALSE(smtp::is_path_address("@b.test"));
    CHECK_FALSE(smtp::is_path_address(std::string(300, 'a') + "@b.test"));
    CHECK(smtp::xtext("a+b=c d") == "a+2Bb+3Dc+20d");
    CHECK(smtp::domain_of("Ann@Example.ORG") == "example.org");
}

TEST_CASE("spool::message rendered as RFC 5322 mail") {
    spool::message m = spool_test::mail({spool_test::smtp("to@a.test"), spool_test::smtp("cc@a.test", spool::recipient_kind::cc),
                                         spool_test::smtp("hidden@a.test", spool::recipient_kind::bcc)},
                                        "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln");
    m.id = spool::message_id{7};
    m.client_submit_time = spool::time_point{std::chrono::seconds{1'700'000'000}};
    m.sender = {"Ann \"the\" Sender", "ann@a.test", "SMTP"};
    m.payload.body = "plain ascii\nsecond line\n";
    m.payload.headers = {{"X-Tag", "one"}, {"Bcc", "leak@a.test"}, {"Bad Name", "x"}};
    const std::string text = spool::rfc5322_renderer{{"host.test"}}(m);

    CHECK(text.find("Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n") == 0);
    CHECK(text.find("From: \"Ann \\\"the\\\" Sender\" <ann@a.test>\r\n") != std::string::npos);
    CHECK(text.find("To: \"to@a.test\" <to@a.test>\r\n") != std::string::npos);
    CHECK(text.find("Cc: \"cc@a.test\" <cc@a.test>\r\n") != std::string::npos);
    CHECK(text.find("hidden") == std::string::npos);
    CHECK(text.find("leak") == std::string::npos);
    CHECK(text.find("Bad Name") == std::string::npos);
    CHECK(text.find("X-Tag: one\r\n") != std::string::npos);
    CHECK(text.find("Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=\r\n") != std::string::npos);
    CHECK(text.find("Message-ID: <spool.7.1700000000000000@host.test>\r\n") != std::string::npos);
    CHECK(text.find("Content-Transfer-Encoding: 7bit\r\n") != std::string::npos);
    CHECK(text.find("\r\n\r\nplain ascii\r\nsecond line\r\n") != std::string::npos);

    SECTION("8-bit text and long lines go quoted-printable") {
        m.payload.body = "K\xc3\xb6ln = " + std::string(100, 'y') + "\n.dot";
        const std::string qp = spool::rfc5322_renderer{}(m);
        CHECK(qp.find("Content-Transfer-Encoding: quoted-printable\r\n") != std::string::npos);
        CHECK(qp.find("K=C3=B6ln =3D y") != std::string::npos);
        CHECK(qp.find("=\r\n") != std::string::npos);
        CHECK(qp.find("\r\n=2Edot") != std::string::npos);
        for (char c : qp.substr(qp.find("\r\n\r\n"))) CHECK(static_cast<unsigned char>(c) < 0x80);
    }
    SECTION("a Message-ID and Date of the payload's own are kept") {
        m.payload.headers = {{"message-id", "<mine@a.test>"}, {"Date", "Mon, 1 Jan 2024 00:00:00 +0000"}};
        const std::string own = spool::rfc5322_renderer{}(m);
        CHECK(own.find("Message-ID: <mine@a.test>\r\n") != std::string::npos);
        CHECK(own.find("Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n") == 0);
        CHECK(own.find("spool.7") == std::string::npos);
    }
    SECTION("a header value already folded goes out byte for byte; one that would break its line goes out on one line") {
        const std::string signature = "v=1; a=rsa-sha256; d=a.test;\r\n\tb=AbC/dEf+123=";
        m.payload.headers = {{"DKIM-Signature", signature}, {"X-Broken", "one\ntwo\rthree"}};
        const std::string own = spool::rfc5322_renderer{}(m);
        CHECK(own.find("DKIM-Signature: " + signature + "\r\n") != std::string::npos);
        CHECK(own.find("X-Broken: one two three\r\n") != std::string::npos);
    }
}

TEST_CASE("the sender's own MIME message goes out as it is, after the signature, with Date and Message-ID only if it has none") {
    spool::message m = spool_test::mail({spool_test::smtp("to@a.test")});
    m.id = spool::message_id{7};
    m.client_submit_time = spool::time_point{std::chrono::seconds{1'700'000'000}};
    const std::string body = "--b\nContent-Type: text/plain\n\n.leading dot\n--b--\n";
    m.payload.mime = "From: ann@a.test\nSubject: own\nContent-Type: multipart/mixed; boundary=b\n\n" + body;
    const std::string signature = "v=1; a=rsa-sha256; d=a.test;\r\n\tb=AbC/dEf+123=";
    m.payload.headers = {{"X-Trace", "one"}, {"DKIM-Signature", signature}};
    const std::string text = spool::rfc5322_renderer{{"host.test"}}(m);

    CHECK(text.find("DKIM-Signature: " + signature + "\r\n") == 0);
    CHECK(text.find("Date: Tue, 14 Nov 2023 22:13:20 +0000\r\nMessage-ID: <spool.7.1700000000000000@host.test>\r\n"
                    "X-Trace: one\r\nFrom: ann@a.test\r\n") != std::string::npos);
    CHECK(text.ends_with("\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n.leading dot\r\n--b--\r\n"));
    CHECK(text.find("MIME-Version") == std::string::npos); // only what the sender wrote
    CHECK(text.find("To:") == std::string::npos);

    SECTION("its own Date and Message-ID are kept, and the stamp adds none") {
        m.payload.mime = "Date: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-Id: <own@a.test>\nSubject: own\n\nhi\n";
        m.payload.headers.clear();
        const auto stamped = spool::testing::run_preprocessor(spool::message_id_stamp{"host.test"}, m, spool::time_point{});
        CHECK(stamped.message.payload.headers.empty());
        const std::string own = spool::rfc5322_renderer{}(stamped.message);
        CHECK(own == "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-Id: <own@a.test>\r\nSubject: own\r\n\r\nhi\r\n");
    }
    SECTION("the codec keeps it, and a report names its Subject") {
        const auto back = spool::decode<spool::mail_payload>(spool::encode(m));
        REQUIRE(back);
        CHECK(back->payload.mime == m.payload.mime);
        CHECK(spool::detail::subject_of(m.payload) == "own");
    }
}

TEST_CASE("message_id_stamp gives a message one Message-ID, and keeps one it has") {
    spool::message_id_stamp stamp{"host.test"};
    auto m = spool_test::mail({spool_test::smtp("to@a.test")});
    const auto run = spool::testing::run_preprocessor(stamp, m, spool::time_point{std::chrono::seconds{1}});
    CHECK(run.applies);
    REQUIRE(run.message.payload.headers.size() == 1);
    CHECK(run.message.payload.headers[0].first == "Message-ID");
    CHECK(run.message.payload.headers[0].second.ends_with("@host.test>"));
    const auto again = spool::testing::run_preprocessor(stamp, run.message, spool::time_point{std::chrono::seconds{2}});
    CHECK(again.message.payload.headers == run.message.payload.headers);
}

TEST_CASE("a relayed recipient is stored as relayed, and its delivery report says so (RFC 3464)") {
    auto m = spool_test::mail({spool_test::smtp("a@a.test"), spool_test::smtp("b@a.test")});
    m.recipients[0].status = spool::status::sent{spool::time_point{std::chrono::seconds{5}}, spool::delivery_action::relayed};
    m.recipients[1].status =
        spool::status::sent{spool::time_point{std::chrono::seconds{6}}, spool::delivery_action::relayed_with_reports};
    const auto back = spool::decode<spool::mail_payload>(spool::encode(m));
    REQUIRE(back);
    CHECK(*back == m);

    spool::message report = spool_test::mail({spool_test::smtp("sender@a.test")});
    report.report = spool::basic_report<spool::mail_payload>{};
    report.report->entries.push_back({"a", "a@a.test", "SMTP", spool::recipient_kind::to, spool::time_point{}, {}, {}, spool::delivery_action::relayed});
    CHECK(spool::render_delivery_status(report).find("Action: relayed") != std::string::npos);
}
