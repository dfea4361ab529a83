#pragma once

// Renders a spool report as an RFC 3464 delivery status notification: a
// multipart/report; report-type=delivery-status MIME message (RFC 3462), so it
// can go out through an SMTP transport and be read by any mail client.

#include <spool/mail/detail/text.hpp>
#include <spool/message.hpp>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace spool {

struct dsn_options {
    std::string reporting_mta = "localhost";              ///< Reporting-MTA: dns; <this>
    std::string from = "Mail Delivery System <MAILER-DAEMON@localhost>";
    /// Empty: derived from the report. Either way, a suffix is added where the
    /// parts contain it, and characters RFC 2046 does not allow are left out.
    std::string boundary;
};

namespace detail {

// "550 5.1.1 ...": a reason that is an SMTP reply (RFC 5321 §4.2), as the
// SMTP transport stores a server's refusal.
inline bool is_smtp_reply(std::string_view s) {
    return s.size() >= 4 && (s[0] == '4' || s[0] == '5') && std::isdigit(static_cast<unsigned char>(s[1])) &&
           std::isdigit(static_cast<unsigned char>(s[2])) && (s[3] == ' ' || s[3] == '-');
}

// RFC 2046 bchars, at most 70 of them.
inline std::string boundary_chars(std::string_view wanted) {
    std::string out;
    for (char c : wanted)
        if (out.size() < 60 && (std::isalnum(static_cast<unsigned char>(c)) ||
                                std::string_view("'()+_,-./:=?").find(c) != std::string_view::npos))
            out += c;
    return out;
}

// A boundary that occurs in none of the parts, so that no part's content can
// end it or start a part of the sender's choosing.
inline std::string boundary_for(std::string base, const std::vector<std::string>& parts) {
    auto occurs = [&](const std::string& b) {
        for (const auto& p : parts)
            if (p.find("--" + b) != std::string::npos) return true;
        return false;
    };
    std::string candidate = base;
    for (unsigned n = 1; occurs(candidate); ++n) candidate = base + "=" + std::to_string(n);
    return candidate;
}

} // namespace detail

/// The report as a MIME message, CRLF line ends. Throws std::invalid_argument
/// if `report` is not a report message (it has no report body).
///
/// Nothing the report carries can add a header or a MIME part: every header
/// line is written by one function that makes it safe, header names of the
/// original that are not RFC 5322 field names are left out, line breaks in the
/// copied original become CR LF, and the boundary is chosen to occur in no part.
inline std::string render_delivery_status(const message& report, const dsn_options& options = {}) {
    if (!report.report)
        throw std::invalid_argument("spool::render_delivery_status: message " +
                                    std::to_string(static_cast<std::uint64_t>(report.id)) + " is not a report");
    const auto& body = *report.report;
    const bool delivery = body.kind == report_kind::delivery;
    const bool delayed = body.kind == report_kind::delayed;
    const std::string crlf = "\r\n";
    const message* original = body.original.empty() ? nullptr : &body.original.front();
    using detail::field;
    using detail::header_value;

    // 1. For people.
    std::string people = "Content-Type: text/plain; charset=utf-8" + crlf + crlf;
    people += delivery  ? "Your message was delivered to:"
              : delayed ? "This is a warning only: you do not need to send your message again." + crlf +
                              "It has not been delivered yet to:"
                        : "Your message could not be delivered to:";
    people += crlf;
    for (const auto& e : body.entries) {
        people += "  " + header_value(e.address);
        if (!delivery && !e.reason.empty()) people += ": " + header_value(e.reason);
        people += crlf;
        if (delayed && e.will_retry_until)
            people += "  It will be tried until " + detail::rfc5322_date(*e.will_retry_until) + "." + crlf;
    }

    // 2. For programs (RFC 3464 section 2).
    std::string status_part = "Content-Type: message/delivery-status" + crlf + crlf;
    field(status_part, "Reporting-MTA", "dns; " + options.reporting_mta);
    if (body.original_submit_time) field(status_part, "Arrival-Date", detail::rfc5322_date(*body.original_submit_time));
    for (const auto& e : body.entries) {
        status_part += crlf;
        field(status_part, "Final-Recipient", detail::address_type_for(e.address_type) + "; " + e.address);
        field(status_part, "Action", delayed    ? "delayed"
                                     : !delivery ? "failed"
                                     : e.action == delivery_action::relayed ? "relayed"
                                                                            : "delivered");
        // A delay's status is a transient one (RFC 3464 §2.3.4); a failure
        // keeps the code it has, as a 4.4.7 of a lifetime that ran out.
        const bool fits = detail::is_status_code(e.diagnostic) && (!delayed || e.diagnostic.front() == '4');
        field(status_part, "Status", delivery ? "2.0.0" : fits ? e.diagnostic : delayed ? "4.0.0" : "5.0.0");
        if (!delivery) {
            // An SMTP server's own words keep their type (RFC 3464 §2.3.6).
            field(status_part, "Diagnostic-Code",
                  detail::is_smtp_reply(e.reason)
                      ? "smtp; " + e.reason
                      : "X-Spool; " + (!e.reason.empty() ? e.reason : delayed ? std::string("not delivered yet")
                                                                              : std::string("undeliverable")));
            field(status_part, "Last-Attempt-Date", detail::rfc5322_date(body.report_time));
            if (delayed && e.will_retry_until) field(status_part, "Will-Retry-Until", detail::rfc5322_date(*e.will_retry_until));
        }
    }

    // 3. The original: whole for a non-delivery report (so it can be resent), its headers otherwise.
    std::string original_part = std::string("Content-Type: ") + (original ? "message/rfc822" : "text/rfc822-headers") + crlf + crlf;
    if (original && !original->payload.mime.empty()) {
        // The sender's own message, as it was given.
        original_part += detail::crlf_lines(original->payload.mime) + crlf;
    } else {
        if (original && !original->sender.address.empty()) {
            const auto& from = original->sender;
            field(original_part, "From", (from.display_name.empty() ? "" : from.display_name + " ") + "<" + from.address + ">");
        }
        std::string to;
        for (const auto& r : body.original_recipients)
            if (r.kind != recipient_kind::bcc) to += (to.empty() ? "" : ", ") + ("<" + r.address + ">");
        if (!to.empty()) field(original_part, "To", to);
        if (body.original_submit_time) field(original_part, "Date", detail::rfc5322_date(*body.original_submit_time));
        if (original) {
            field(original_part, "Subject", original->payload.subject);
            for (const auto& [name, value] : original->payload.headers) field(original_part, name, value);
            original_part += crlf + detail::crlf_lines(original->payload.body) + crlf;
        } else {
            const std::string_view prefix = detail::report_subject_prefix(body.kind);
            const std::string_view subject = report.payload.subject;
            field(original_part, "Subject", subject.substr(subject.rfind(prefix, 0) == 0 ? prefix.size() : 0));
        }
    }

    const std::vector<std::string> parts{people, status_part, original_part};
    const std::string base = detail::boundary_chars(options.boundary);
    const std::string boundary = detail::boundary_for(
        base.empty() ? "spool-dsn-" + std::to_string(static_cast<std::uint64_t>(body.original_id)) + "-" +
                           std::to_string(body.report_time.time_since_epoch().count())
                     : base,
        parts);
    const std::string message_id = "<spool-dsn." + std::to_string(static_cast<std::uint64_t>(body.original_id)) + "." +
                                   (delivery ? "dr." : delayed ? "delay." : "ndr.") + std::to_string(body.report_time.time_since_epoch().count()) +
                                   "@" + detail::dot_atom(options.reporting_mta, "localhost") + ">";

    std::string out;
    field(out, "From", options.from);
    if (!report.recipients.empty()) field(out, "To", "<" + report.recipients.front().address + ">");
    field(out, "Subject", report.payload.subject);
    field(out, "Date", detail::rfc5322_date(body.report_time));
    field(out, "Message-ID", message_id);
    // RFC 3834: a report is automatic; auto-responders and list managers do not answer it.
    field(out, "Auto-Submitted", "auto-replied");
    field(out, "MIME-Version", "1.0");
    field(out, "Content-Type", "multipart/report; report-type=delivery-status; boundary=\"" + boundary + "\"");
    out += crlf;
    for (const auto& part : parts) out += "--" + boundary + crlf + part + crlf;
    out += "--" + boundary + "--" + crlf;
    return out;
}

} // namespace spool
