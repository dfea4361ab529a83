#pragma once

// The dashboard's text in and out: HTML with every value escaped, JSON
// strings, and the percent-encoded fields of a query or a form.

#include <spool/clock.hpp>

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spool::detail::web {

/// A time as the pages and the API show it, as spoolctl does.
inline std::string iso(time_point t) { return utc_text(t); }

/// Text for HTML content and quoted attributes: a subject `<script>` shows as text.
inline std::string html(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
        }
    }
    return out;
}

/// A JSON string, quotes included. Bytes that are not UTF-8 pass as they
/// are; control characters are escaped.
inline std::string json_string(std::string_view s) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out = "\"";
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') (out += '\\') += c;
        else if (c == '\n') out += "\\n";
        else if (c == '\r') out += "\\r";
        else if (c == '\t') out += "\\t";
        else if (u < 0x20 || u == 0x7f) (((out += "\\u00") += digits[u >> 4]) += digits[u & 15]);
        else if (c == '<') out += "\\u003c"; // never "</script>" in a page
        else out += c;
    }
    return out += '"';
}

/// Percent-decoding of one field (`+` is a space); none for a broken escape.
inline std::optional<std::string> percent_decoded(std::string_view s) {
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') out += ' ';
        else if (s[i] != '%') out += s[i];
        else {
            if (i + 2 >= s.size()) return std::nullopt;
            const int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        }
    }
    return out;
}

/// Percent-encoding for a query value.
inline std::string percent_encoded(std::string_view s) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~')
            out += c;
        else ((out += '%') += digits[u >> 4]) += digits[u & 15];
    }
    return out;
}

using field_list = std::vector<std::pair<std::string, std::string>>;

/// The fields of `a=1&b=x%20y&b=z` (a query or an urlencoded form) in order,
/// repeats kept (a form's checked boxes share a name); none when one is malformed.
inline std::optional<field_list> form_pairs(std::string_view s) {
    field_list out;
    while (!s.empty()) {
        const std::size_t amp = s.find('&');
        const std::string_view field = s.substr(0, amp);
        s = amp == std::string_view::npos ? std::string_view{} : s.substr(amp + 1);
        if (field.empty()) continue;
        const std::size_t eq = field.find('=');
        auto name = percent_decoded(field.substr(0, eq));
        auto value = percent_decoded(eq == std::string_view::npos ? std::string_view{} : field.substr(eq + 1));
        if (!name || !value || name->empty()) return std::nullopt;
        out.emplace_back(std::move(*name), std::move(*value));
    }
    return out;
}

/// The fields of `a=1&b=x%20y` by name; none when a field is malformed or repeated.
inline std::optional<std::map<std::string, std::string, std::less<>>> form_fields(std::string_view s) {
    auto pairs = form_pairs(s);
    if (!pairs) return std::nullopt;
    std::map<std::string, std::string, std::less<>> out;
    for (auto& [name, value] : *pairs)
        if (!out.emplace(std::move(name), std::move(value)).second) return std::nullopt;
    return out;
}

} // namespace spool::detail::web
