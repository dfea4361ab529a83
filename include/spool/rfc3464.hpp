#pragma once

// Renders a spool report as an RFC 3464 delivery status notification: a
// multipart/report; report-type=delivery-status MIME message (RFC 3462), so it
// can go out through an SMTP transport and be read by any mail client.

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

// RFC 5322 date-time, in UTC, from C++20's calendar: no gmtime_r (POSIX) or
// gmtime_s (Windows), and no locale.
inline std::string rfc5322_date(time_point t) {
    using namespace std::chrono;
    static constexpr const char* day_names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const auto day = floor<days>(t);
    const year_month_day date{day};
    const hh_mm_ss time{floor<seconds>(t - day)};
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%s, %02u %s %04d %02d:%02d:%02d +0000", day_names[weekday{day}.c_encoding()],
                  static_cast<unsigned>(date.day()), month_names[static_cast<unsigned>(date.month()) - 1],
                  static_cast<int>(date.year()), static_cast<int>(time.hours().count()),
                  static_cast<int>(time.minutes().count()), static_cast<int>(time.seconds().count()));
    return buffer;
}

// Everything this file writes into a header goes through field(): the one
// place that makes a name and a value safe. A value may not break its line
// (controls become spaces); a name must be an RFC 5322 field-name, and a line
// whose name is not one is left out, since it cannot be written as it was.
inline std::string header_value(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (char c : v) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
    return out;
}

/// RFC 5322 field-name: one or more printable ASCII characters other than the colon.
inline bool is_field_name(std::string_view name) {
    if (name.empty()) return false;
    for (char c : name)
        if (static_cast<unsigned char>(c) < 33 || static_cast<unsigned char>(c) > 126 || c == ':') return false;
    return true;
}

inline void field(std::string& out, std::string_view name, std::string_view value) {
    if (!is_field_name(name)) return;
    out.append(name).append(": ").append(header_value(value)).append("\r\n");
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

// RFC 5322 atext: what an atom (an RFC 3464 address-type, a Message-ID's parts) may hold.
inline bool is_atext(char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
           std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

// An address type as the atom RFC 3464 asks for: "rfc822" for SMTP, else "x-"
// and the type in lower case, with every character an atom cannot hold left out.
inline std::string address_type_for(std::string_view type) {
    if (type == "SMTP" || type.empty()) return "rfc822";
    std::string t = "x-";
    for (char c : type)
        if (is_atext(c)) t += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return t;
}

// A dot-atom for a Message-ID's right side: atext runs joined by single dots.
inline std::string dot_atom(std::string_view text, std::string_view fallback) {
    std::string out;
    for (char c : text) {
        if (is_atext(c)) out += c;
        else if (c == '.' && !out.empty() && out.back() != '.') out += '.';
    }
    while (!out.empty() && out.back() == '.') out.pop_back();
    return out.empty() ? std::string(fallback) : out;
}

// Text copied into a part: every line break a CR LF, so that no bare CR or LF
// reaches a mail system that would read it as one (or not).
inline std::string crlf_lines(std::string_view text) {
    std::string out;
    out.reserve(text.size() + text.size() / 32);
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\r') {
            out += "\r\n";
            if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
        } else if (text[i] == '\n') {
            out += "\r\n";
        } else {
            out += text[i];
        }
    }
    return out;
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
    const std::string crlf = "\r\n";
    const message* original = body.original.empty() ? nullptr : &body.original.front();
    using detail::field;
    using detail::header_value;

    // 1. For people.
    std::string people = "Content-Type: text/plain; charset=utf-8" + crlf + crlf;
    people += delivery ? "Your message was delivered to:" : "Your message could not be delivered to:";
    people += crlf;
    for (const auto& e : body.entries) {
        people += "  " + header_value(e.address);
        if (!delivery && !e.reason.empty()) people += ": " + header_value(e.reason);
        people += crlf;
    }

    // 2. For programs (RFC 3464 section 2).
    std::string status_part = "Content-Type: message/delivery-status" + crlf + crlf;
    field(status_part, "Reporting-MTA", "dns; " + options.reporting_mta);
    if (body.original_submit_time) field(status_part, "Arrival-Date", detail::rfc5322_date(*body.original_submit_time));
    for (const auto& e : body.entries) {
        status_part += crlf;
        field(status_part, "Final-Recipient", detail::address_type_for(e.address_type) + "; " + e.address);
        field(status_part, "Action", delivery ? "delivered" : "failed");
        field(status_part, "Status", delivery ? "2.0.0" : detail::is_status_code(e.diagnostic) ? e.diagnostic : "5.0.0");
        if (!delivery) {
            field(status_part, "Diagnostic-Code", "X-Spool; " + (e.reason.empty() ? std::string("undeliverable") : e.reason));
            field(status_part, "Last-Attempt-Date", detail::rfc5322_date(body.report_time));
        }
    }

    // 3. The original: whole for a non-delivery report (so it can be resent), its headers otherwise.
    std::string original_part = std::string("Content-Type: ") + (original ? "message/rfc822" : "text/rfc822-headers") + crlf + crlf;
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
        const std::string prefix = "Delivered: ";
        const std::string_view subject = report.payload.subject;
        field(original_part, "Subject", subject.substr(subject.rfind(prefix, 0) == 0 ? prefix.size() : 0));
    }

    const std::vector<std::string> parts{people, status_part, original_part};
    const std::string base = detail::boundary_chars(options.boundary);
    const std::string boundary = detail::boundary_for(
        base.empty() ? "spool-dsn-" + std::to_string(static_cast<std::uint64_t>(body.original_id)) + "-" +
                           std::to_string(body.report_time.time_since_epoch().count())
                     : base,
        parts);
    const std::string message_id = "<spool-dsn." + std::to_string(static_cast<std::uint64_t>(body.original_id)) + "." +
                                   (delivery ? "dr." : "ndr.") + std::to_string(body.report_time.time_since_epoch().count()) +
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
