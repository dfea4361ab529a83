#pragma once

// The MIME structure of a message (RFC 2045, RFC 2046) as far as a reader of
// received mail needs it: a Content-Type's media type and parameters, and the
// parts of a multipart body. Nothing is decoded: parts are views of the text.

#include <spool/mail/detail/header_section.hpp>
#include <spool/mail/detail/text.hpp>

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace spool::detail {

// Without the spaces and tabs around it.
inline std::string_view trimmed(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// The value of a Content-Type parameter (RFC 2045 §5.1: a token or a quoted
// string), or empty; names compare without case.
inline std::string content_type_parameter(std::string_view content_type, std::string_view name) {
    std::size_t pos = content_type.find(';');
    while (pos != std::string_view::npos) {
        std::string_view rest = trimmed(content_type.substr(pos + 1));
        const std::size_t eq = rest.find('=');
        if (eq == std::string_view::npos) return {};
        const bool wanted = same_field_name(trimmed(rest.substr(0, eq)), name);
        std::string_view value = trimmed(rest.substr(eq + 1));
        std::string out;
        std::size_t used = 0;
        if (!value.empty() && value.front() == '"') {
            for (used = 1; used < value.size() && value[used] != '"'; ++used) {
                if (value[used] == '\\' && used + 1 < value.size()) ++used;
                out += value[used];
            }
            ++used;
        } else {
            used = std::min(value.find(';'), value.size());
            out = std::string(trimmed(value.substr(0, used)));
        }
        if (wanted) return out;
        const std::size_t next = value.find(';', std::min(used, value.size()));
        pos = next == std::string_view::npos ? next : content_type.size() - value.size() + next;
    }
    return {};
}

// The content type without its parameters, in lower case.
inline std::string media_type(std::string_view content_type) {
    std::string out(trimmed(content_type.substr(0, content_type.find(';'))));
    for (char& c : out) c = fold_case(c);
    return out;
}

// The parts of a multipart body (RFC 2046 §5.1.1), each with its headers.
inline std::vector<std::string_view> multipart_parts(std::string_view body, std::string_view boundary) {
    std::vector<std::string_view> parts;
    const std::string delimiter = "--" + std::string(boundary);
    std::size_t pos = 0, start = std::string_view::npos;
    while (pos < body.size()) {
        const std::size_t line_start = pos;
        const std::string_view line = next_line(body, pos);
        if (line.substr(0, delimiter.size()) != delimiter) continue;
        const std::string_view after = trimmed(line.substr(delimiter.size()));
        if (!after.empty() && after != "--") continue;
        if (start != std::string_view::npos) {
            std::size_t end = line_start; // the line break before the delimiter belongs to it
            if (end > start && body[end - 1] == '\n') --end;
            if (end > start && body[end - 1] == '\r') --end;
            parts.push_back(body.substr(start, end - start));
        }
        if (after == "--") break;
        start = pos;
    }
    return parts;
}

} // namespace spool::detail
