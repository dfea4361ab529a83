#pragma once

// Pieces of RFC 5322 text that more than one writer of mail needs: the date,
// header fields that cannot break their line, atoms, and CR LF line ends.

#include <spool/message.hpp>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace spool::detail {

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

/// Whether `v` can stand in a header as it is: no control character but
/// HTAB, and CR LF only as a fold, followed by a space or a tab and more text
/// (RFC 5322 §2.2.3). A value already folded, or a signature written byte for
/// byte, is one.
inline bool is_header_value(std::string_view v) {
    for (std::size_t i = 0; i < v.size(); ++i) {
        const auto c = static_cast<unsigned char>(v[i]);
        if (c == '\r') {
            if (i + 3 >= v.size() || v[i + 1] != '\n' || (v[i + 2] != ' ' && v[i + 2] != '\t')) return false;
            i += 2;
            continue;
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
    }
    return true;
}

/// Whether an address has no control character: none can be sent.
inline bool is_address_text(std::string_view a) {
    for (char c : a)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
    return true;
}

// Everything a mail writer puts into a header goes through field(): the one
// place that makes a name and a value safe. A value that can stand as it is
// (is_header_value: folds and all) is written unchanged; any other may not
// break its line (controls become spaces). A name must be an RFC 5322
// field-name, and a line whose name is not one is left out, since it cannot
// be written as it was.
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
    out.append(name).append(": ");
    if (is_header_value(value)) out.append(value);
    else out.append(header_value(value));
    out.append("\r\n");
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

// Calls line(content, ended) for each line of `text`. CR LF, a bare CR and a
// bare LF all end a line, as mail systems read them differently; `ended` is
// false only for a last line that has no end.
template <class F>
void for_each_line(std::string_view text, F&& line) {
    std::size_t start = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\r' && text[i] != '\n') continue;
        line(text.substr(start, i - start), true);
        if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
        start = i + 1;
    }
    if (start < text.size()) line(text.substr(start), false);
}

// Text copied into a part: every line break a CR LF, so that no bare CR or LF
// reaches a mail system that would read it as one (or not).
inline std::string crlf_lines(std::string_view text) {
    std::string out;
    out.reserve(text.size() + text.size() / 32);
    for_each_line(text, [&](std::string_view line, bool ended) {
        out += line;
        if (ended) out += "\r\n";
    });
    return out;
}

// RFC 4648 base64, with padding: encoded-words (RFC 2047) and SASL (RFC 4954).
inline void base64(std::string& out, std::string_view in) {
    static constexpr char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const auto n = (std::uint32_t(std::uint8_t(in[i])) << 16) | (std::uint32_t(std::uint8_t(in[i + 1])) << 8) |
                       std::uint8_t(in[i + 2]);
        out += table[n >> 18];
        out += table[(n >> 12) & 63];
        out += table[(n >> 6) & 63];
        out += table[n & 63];
    }
    if (i < in.size()) {
        auto n = std::uint32_t(std::uint8_t(in[i])) << 16;
        if (i + 1 < in.size()) n |= std::uint32_t(std::uint8_t(in[i + 1])) << 8;
        out += table[n >> 18];
        out += table[(n >> 12) & 63];
        out += i + 1 < in.size() ? table[(n >> 6) & 63] : '=';
        out += '=';
    }
}

} // namespace spool::detail
