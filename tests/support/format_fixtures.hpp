#pragma once

// The messages whose encodings are kept under tests/fixtures/format-<N>/, one
// file per message, as each earlier encoder wrote them. A new encoding format
// adds a directory (run `spool_codec_tests "[.write-fixtures]"` once from the
// source tree); the old ones stay, so every format a store may still hold is
// decoded by a test.

#include <spool/message.hpp>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace spool_test {

inline spool::time_point at(long long seconds) { return spool::time_point{std::chrono::seconds{seconds}}; }

inline std::vector<std::pair<std::string, spool::message>> format_fixtures() {
    using namespace spool;
    std::vector<std::pair<std::string, message>> out;

    message minimal;
    minimal.id = message_id{1};
    minimal.recipients.push_back({"Ann", "ann@example.org", "SMTP"});
    minimal.payload.subject = "hello";
    out.emplace_back("minimal", minimal);

    message full;
    full.id = message_id{42};
    full.message_class = "IPM.Note.Custom";
    full.flags = message_flags::submitted | message_flags::unsent | message_flags::from_me;
    full.submission = submit_flags::preprocess;
    full.client_submit_time = at(1'700'000'000);
    full.priority = message_priority::urgent;
    full.sender = {"Bob", "bob@example.org", "SMTP"};
    full.report_to = mailbox{"Reports", "reports@example.org", "SMTP"};
    full.sent_mail = disposition::move_to{folder_id{77}};
    full.reports = {true, false};
    full.deferred_delivery_time = at(1'700'000'600);
    recipient pending{"Cy", "cy@example.org", "SMTP", recipient_kind::cc};
    recipient sent{"Di", "+15550100", "SMS", recipient_kind::to, true, status::sent{at(1'700'000'100)}, true};
    recipient deferred{"Ed", "ed@example.org", "SMTP", recipient_kind::bcc};
    deferred.status = status::deferred{at(1'700'000'900), "greylisted", 3, {}};
    deferred.reports = report_requests{false, true};
    recipient failed{"Fi", "fi@example.org", "SMTP"};
    failed.responsibility = true;
    failed.status = status::failed{"mailbox unavailable", "5.1.1"};
    full.recipients = {pending, sent, deferred, failed};
    full.payload.subject = "Quarterly figures \xe2\x82\xac";
    full.payload.body = "line one\r\nline two\r\n\x00\xff binary";
    full.payload.body += std::string(1, '\0');
    full.payload.headers = {{"X-Mailer", "spool"}, {"Reply-To", "bob@example.org"}};
    out.emplace_back("full", full);

    message report;
    report.id = message_id{43};
    report.message_class = "Report.IPM.Note.NDR";
    report.recipients.push_back({"Bob", "bob@example.org", "SMTP"});
    report.sent_mail = disposition::delete_after_submit{};
    basic_report<mail_payload> body;
    body.kind = report_kind::non_delivery;
    body.report_time = at(1'700'001'000);
    body.entries.push_back({"Fi", "fi@example.org", "SMTP", recipient_kind::to, std::nullopt, "mailbox unavailable", "5.1.1"});
    body.entries.push_back({"Di", "+15550100", "SMS", recipient_kind::cc, at(1'700'000'100), "", ""});
    body.original_id = message_id{42};
    body.original_class = "IPM.Note";
    body.original_submit_time = at(1'700'000'000);
    body.original_recipients = {failed};
    message original = minimal;
    original.sent_mail = disposition::leave_in_place{};
    body.original.push_back(original);
    report.report = body;
    report.payload.subject = "Undeliverable: hello";
    out.emplace_back("report", report);
    return out;
}

} // namespace spool_test
