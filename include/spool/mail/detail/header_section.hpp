#pragma once

// A message of the sender's own making (mail_payload::mime) read as RFC 5322
// reads it: fields up to the first empty line, each a name, a colon and a
// value that goes on over lines starting with a space or a tab; then the body.
// CR LF and a bare LF both end a line (users write "\n"); the SMTP transport
// sends every line end as CR LF.

#include <spool/mail/detail/text.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace spool::detail {

inline constexpr std::size_t max_mime_line = 998; // RFC 5322 §2.1.1, without the CR LF

// Field names compare without case (RFC 5322 §1.2.2), in ASCII as addresses do.
inline bool same_field_name(std::string_view a, std::string_view b) noexcept { return same_address(a, b); }

// The next line of `text` from `pos`, without its end; `pos` moves past it.
inline std::string_view next_line(std::string_view text, std::size_t& pos) {
    const std::size_t lf = text.find('\n', pos);
    const std::size_t end = lf == std::string_view::npos ? text.size() : lf;
    std::string_view line = text.substr(pos, end - pos);
    pos = lf == std::string_view::npos ? text.size() : lf + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
}

// Calls field(name, value) for each header field of `mime`, the value as
// written (folds kept, with the line ends they had, the leading space after
// the colon too). False, having stopped, when the header section is not one:
// a line that is neither a field nor a fold, a field-name that is not one, a
// control character other than HTAB, a bare CR, or a line over 998 octets.
template <class Field>
bool for_each_field(std::string_view mime, Field&& field) {
    std::size_t pos = 0;
    std::string_view name;
    std::size_t value_start = 0, value_end = 0;
    bool open = false;
    auto flush = [&] {
        if (open) field(name, mime.substr(value_start, value_end - value_start));
        open = false;
    };
    while (pos < mime.size()) {
        const std::size_t line_start = pos;
        const std::string_view line = next_line(mime, pos);
        if (line.empty()) break; // the header section ends
        if (line.size() > max_mime_line) return false;
        for (char c : line)
            if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) return false;
        if (line.front() == ' ' || line.front() == '\t') {
            if (!open) return false; // a fold with no field to continue
            value_end = line_start + line.size();
            continue;
        }
        flush();
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos || !is_field_name(line.substr(0, colon))) return false;
        name = line.substr(0, colon);
        value_start = line_start + colon + 1;
        value_end = line_start + line.size();
        open = true;
    }
    flush();
    return true;
}

// The body of `mime`: what follows the empty line that ends its header
// section (empty when it has none).
inline std::string_view mime_body(std::string_view mime) {
    std::size_t pos = 0;
    while (pos < mime.size())
        if (next_line(mime, pos).empty()) return mime.substr(pos);
    return {};
}

// The value of the first field called `name` (compared without case), as written.
inline std::optional<std::string_view> mime_field(std::string_view mime, std::string_view name) {
    std::optional<std::string_view> found;
    for_each_field(mime, [&](std::string_view n, std::string_view v) {
        if (!found && same_field_name(n, name)) found = v;
    });
    return found;
}

// A value with its folds undone and its surrounding space trimmed (RFC 5322 §2.2.3).
inline std::string unfolded(std::string_view value) {
    std::string out;
    for (char c : value)
        if (c != '\r' && c != '\n') out += c;
    const std::size_t first = out.find_first_not_of(" \t");
    if (first == std::string::npos) return {};
    return out.substr(first, out.find_last_not_of(" \t") - first + 1);
}

// Whether `mime` can be sent as it is: a header section with at least one
// field, and no line, in the body either, over 998 octets (a part with longer
// lines needs quoted-printable or base64, which only its writer can give it).
inline bool is_mime_message(std::string_view mime) {
    int fields = 0;
    if (!for_each_field(mime, [&](std::string_view, std::string_view) { ++fields; }) || fields == 0) return false;
    const std::string_view body = mime_body(mime);
    for (std::size_t pos = 0; pos < body.size();)
        if (next_line(body, pos).size() > max_mime_line) return false;
    return true;
}

// The subject a report names: the payload's own, or for the sender's own
// MIME message its Subject field, unfolded (encoded-words stay as written).
template <class Payload>
std::string subject_of(const Payload& p) {
    return p.subject;
}
inline std::string subject_of(const mail_payload& p) {
    if (p.mime.empty()) return p.subject;
    const auto subject = mime_field(p.mime, "Subject");
    return subject ? unfolded(*subject) : std::string{};
}

} // namespace spool::detail
