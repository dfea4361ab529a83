#pragma once

// What goes on the wire in an SMTP session besides the replies: command
// arguments that cannot smuggle a command, DSN's xtext, and the message data
// (RFC 5321 §4.5.2): CR LF line ends only, dot-stuffed, no line longer than
// 998 octets, ended by CR LF . CR LF.

#include <spool/mail/detail/text.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace spool::detail::smtp {

inline constexpr std::size_t max_line = 998; // RFC 5321 §4.5.3.1.6, without the CR LF

/// A mailbox that can stand between < and > in MAIL or RCPT: no control
/// character, space or angle bracket (which would end the command or the
/// path early, so that the rest became a command of the message's choosing),
/// at most 256 octets (§4.5.3.1.3), and one @ with something on each side.
inline bool is_path_address(std::string_view a) noexcept {
    if (a.empty() || a.size() > 256) return false;
    for (char c : a) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x21 || u == 0x7f || c == '<' || c == '>') return false;
    }
    const std::size_t at = a.rfind('@');
    return at != std::string_view::npos && at > 0 && at + 1 < a.size();
}

inline bool has_8bit(std::string_view s) noexcept {
    for (char c : s)
        if (static_cast<unsigned char>(c) >= 0x80) return true;
    return false;
}

/// RFC 3461 §4: xtext, every character outside "!".."~" and "+" and "=" as +XX.
inline std::string xtext(std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x21 || u > 0x7e || c == '+' || c == '=') {
            out += '+';
            out += hex[u >> 4];
            out += hex[u & 15];
        } else {
            out += c;
        }
    }
    return out;
}

/// The domain of an address: what follows its last @, in lower case (ASCII).
inline std::string domain_of(std::string_view address) {
    const std::size_t at = address.rfind('@');
    std::string d(at == std::string_view::npos ? std::string_view{} : address.substr(at + 1));
    for (char& c : d)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return d;
}

/// Appends `text` as SMTP message data. Every CR LF, bare CR and bare LF is
/// one line end, written as CR LF, so that no bare CR or LF reaches the server
/// (where "<LF>.<LF>" could end the data early: SMTP smuggling). A line that
/// starts with "." gets another; a line longer than 998 octets is broken with
/// CR LF and a space, as Postfix does, which a header reads as folding.
inline void append_data(std::string& out, std::string_view text) {
    out.reserve(out.size() + text.size() + text.size() / 64 + 8);
    for_each_line(text, [&](std::string_view line, bool) {
        std::size_t column = 0;
        if (!line.empty() && line.front() == '.') {
            out += '.';
            ++column;
        }
        for (char c : line) {
            if (column >= max_line) {
                out += "\r\n ";
                column = 1;
            }
            out += c;
            ++column;
        }
        out += "\r\n";
    });
    out += ".\r\n";
}

} // namespace spool::detail::smtp
