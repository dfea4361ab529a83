// Fuzz target: rendering a non-delivery report whose every text comes from the
// input. The output must be CR LF lines, its top-level header must be exactly
// the fields the renderer writes, it must have exactly three parts, and the
// delivery-status part must hold only the fields the renderer writes: no
// input may add a header or a MIME part.

#include "input_fields.hpp"

#include <spool/mail/rfc3464.hpp>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using spool_fuzz::input_fields;
using spool_fuzz::lines_of;
using spool_fuzz::require;

std::string_view name_of(std::string_view line) { return line.substr(0, line.find(':')); }

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    input_fields in(std::string_view(reinterpret_cast<const char*>(data), size));
    spool::message report;
    report.recipients.push_back({in.next(), in.next(), in.next()});
    report.payload.subject = in.next();
    spool::basic_report<spool::mail_payload> body;
    body.kind = spool::report_kind::non_delivery;
    body.original_submit_time = spool::time_point{};
    for (int i = 0; i < 2; ++i)
        body.entries.push_back({in.next(), in.next(), in.next(), spool::recipient_kind::to, std::nullopt, in.next(), in.next()});
    spool::message original;
    original.sender = {in.next(), in.next(), in.next()};
    original.payload.subject = in.next();
    original.payload.body = in.next();
    body.original_recipients.push_back({in.next(), in.next(), "SMTP"});
    while (in.more()) original.payload.headers.emplace_back(in.next(), in.next());
    body.original.push_back(original);
    report.report = body;
    spool::dsn_options options;
    options.reporting_mta = report.payload.subject;
    options.boundary = original.payload.subject;

    const std::string text = spool::render_delivery_status(report, options);
    require(spool_fuzz::crlf_only(text)); // no bare CR or LF anywhere
    const auto lines = lines_of(text);

    // The top-level header: exactly the renderer's fields, in its order.
    static constexpr std::array<std::string_view, 8> top{"From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted",
                                                          "MIME-Version", "Content-Type"};
    std::size_t at = 0;
    for (std::string_view name : top) require(at < lines.size() && name_of(lines[at++]) == name);
    require(at < lines.size() && lines[at].empty());
    const std::string_view content_type = lines[at - 1];
    const auto quote = content_type.find("boundary=\"");
    require(quote != std::string_view::npos);
    const std::string_view boundary = content_type.substr(quote + 10, content_type.size() - quote - 11);

    // Exactly three parts and one closing delimiter; the delivery-status part holds only its fields.
    int delimiters = 0, closings = 0, part = 0;
    bool in_status = false;
    for (std::size_t i = at; i < lines.size(); ++i) {
        const std::string_view line = lines[i];
        if (line.size() >= 2 + boundary.size() && line.substr(0, 2) == "--" && line.substr(2, boundary.size()) == boundary) {
            const std::string_view rest = line.substr(2 + boundary.size());
            require(rest.empty() || rest == "--");
            (rest.empty() ? delimiters : closings) += 1;
            ++part;
            in_status = false;
            continue;
        }
        if (line == "Content-Type: message/delivery-status") in_status = part == 2;
        else if (in_status && !line.empty()) {
            static constexpr std::array<std::string_view, 7> allowed{"Reporting-MTA", "Arrival-Date", "Final-Recipient", "Action",
                                                                     "Status", "Diagnostic-Code", "Last-Attempt-Date"};
            bool known = false;
            for (auto a : allowed) known = known || name_of(line) == a;
            require(known);
            if (name_of(line) == "Action") require(line == "Action: failed");
        }
    }
    require(delimiters == 3 && closings == 1);
    return 0;
}
