#pragma once

// Renders a spool report as an RFC 3464 delivery status notification: a
// multipart/report; report-type=delivery-status MIME message (RFC 3462), so it
// can go out through an SMTP transport and be read by any mail client.

#include <spool/message.hpp>

#include <cctype>
#include <chrono>
#include <ctime>
#include <stdexcept>
#include <string>
#include <string_view>

namespace spool {

struct dsn_options {
    std::string reporting_mta = "localhost";              ///< Reporting-MTA: dns; <this>
    std::string from = "Mail Delivery System <MAILER-DAEMON@localhost>";
    std::string boundary;                                 ///< empty: derived from the report
};

namespace detail {

// RFC 5322 date-time, in UTC.
inline std::string rfc5322_date(time_point t) {
    const std::time_t secs = std::chrono::system_clock::to_time_t(t);
    std::tm utc{};
    gmtime_r(&secs, &utc);
    char buffer[64];
    std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S +0000", &utc);
    return buffer;
}

// A header value may not break the header: line breaks and other controls become spaces.
inline std::string header_value(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (char c : v) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
    return out;
}

// RFC 3463: class.subject.detail, class 2, 4 or 5.
inline bool is_status_code(std::string_view s) {
    if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return false;
    int dots = 0;
    for (std::size_t i = 2; i < s.size(); ++i) {
        if (s[i] == '.') {
            if (s[i - 1] == '.' || ++dots > 1) return false;
        } else if (!std::isdigit(static_cast<unsigned char>(s[i]))) {
            return false;
        }
    }
    return dots == 1 && s.back() != '.';
}

inline std::string address_type_for(std::string_view type) {
    if (type == "SMTP" || type.empty()) return "rfc822";
    std::string t = "x-";
    for (char c : type) t += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return t;
}

} // namespace detail

/// The report as a MIME message, CRLF line ends. Throws std::invalid_argument
/// if `report` is not a report message (it has no report body).
inline std::string render_delivery_status(const message& report, const dsn_options& options = {}) {
    if (!report.report)
        throw std::invalid_argument("spool::render_delivery_status: message " +
                                    std::to_string(static_cast<std::uint64_t>(report.id)) + " is not a report");
    const auto& body = *report.report;
    const bool delivery = body.kind == report_kind::delivery;
    const std::string crlf = "\r\n";
    const std::string boundary = options.boundary.empty()
                                     ? "spool-dsn-" + std::to_string(static_cast<std::uint64_t>(body.original_id)) + "-" +
                                           std::to_string(body.report_time.time_since_epoch().count())
                                     : options.boundary;
    const message* original = body.original.empty() ? nullptr : &body.original.front();
    using detail::header_value;

    std::string out;
    out += "From: " + header_value(options.from) + crlf;
    if (!report.recipients.empty()) out += "To: <" + header_value(report.recipients.front().address) + ">" + crlf;
    out += "Subject: " + header_value(report.payload.subject) + crlf;
    out += "Date: " + detail::rfc5322_date(body.report_time) + crlf;
    out += "MIME-Version: 1.0" + crlf;
    out += "Content-Type: multipart/report; report-type=delivery-status; boundary=\"" + boundary + "\"" + crlf + crlf;

    // 1. For people.
    out += "--" + boundary + crlf + "Content-Type: text/plain; charset=utf-8" + crlf + crlf;
    out += delivery ? "Your message was delivered to:" : "Your message could not be delivered to:";
    out += crlf;
    for (const auto& e : body.entries) {
        out += "  " + header_value(e.address);
        if (!delivery && !e.reason.empty()) out += ": " + header_value(e.reason);
        out += crlf;
    }
    out += crlf;

    // 2. For programs (RFC 3464 section 2).
    out += "--" + boundary + crlf + "Content-Type: message/delivery-status" + crlf + crlf;
    out += "Reporting-MTA: dns; " + header_value(options.reporting_mta) + crlf;
    if (body.original_submit_time) out += "Arrival-Date: " + detail::rfc5322_date(*body.original_submit_time) + crlf;
    for (const auto& e : body.entries) {
        out += crlf;
        out += "Final-Recipient: " + detail::address_type_for(e.address_type) + "; " + header_value(e.address) + crlf;
        out += std::string("Action: ") + (delivery ? "delivered" : "failed") + crlf;
        const std::string status = delivery ? "2.0.0" : detail::is_status_code(e.diagnostic) ? e.diagnostic : "5.0.0";
        out += "Status: " + status + crlf;
        if (!delivery) {
            out += "Diagnostic-Code: X-Spool; " + header_value(e.reason.empty() ? "undeliverable" : e.reason) + crlf;
            out += "Last-Attempt-Date: " + detail::rfc5322_date(body.report_time) + crlf;
        }
    }
    out += crlf;

    // 3. The original: whole for a non-delivery report (so it can be resent), its headers otherwise.
    out += "--" + boundary + crlf;
    out += std::string("Content-Type: ") + (original ? "message/rfc822" : "text/rfc822-headers") + crlf + crlf;
    if (original && !original->sender.address.empty()) {
        const auto& from = original->sender;
        out += "From: " + (from.display_name.empty() ? "" : header_value(from.display_name) + " ") + "<" +
               header_value(from.address) + ">" + crlf;
    }
    if (!body.original_recipients.empty()) {
        std::string to;
        for (const auto& r : body.original_recipients)
            if (r.kind != recipient_kind::bcc) to += (to.empty() ? "" : ", ") + ("<" + header_value(r.address) + ">");
        if (!to.empty()) out += "To: " + to + crlf;
    }
    if (body.original_submit_time) out += "Date: " + detail::rfc5322_date(*body.original_submit_time) + crlf;
    if (original) {
        out += "Subject: " + header_value(original->payload.subject) + crlf;
        for (const auto& [name, value] : original->payload.headers) out += header_value(name) + ": " + header_value(value) + crlf;
        out += crlf + original->payload.body + crlf;
    } else {
        const std::string prefix = "Delivered: ";
        const std::string_view subject = report.payload.subject;
        out += "Subject: " + header_value(subject.substr(subject.rfind(prefix, 0) == 0 ? prefix.size() : 0)) + crlf;
    }
    out += crlf + "--" + boundary + "--" + crlf;
    return out;
}

} // namespace spool
