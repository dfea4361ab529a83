#pragma once

// An SMTP server's reply, read from the bytes it sent (RFC 5321 §4.2): one or
// more lines "ddd-text" ending with "ddd text", every line with the same code.
// What a hostile or broken server sends is an error here, never a crash or an
// unbounded buffer: the reader takes only what it was given and says how much
// of it one reply used.

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace spool::detail::smtp {

/// One complete reply.
struct reply {
    int code = 0;         ///< 200..599
    std::string enhanced; ///< the RFC 3463 code, sanitised as Postfix does: its class is the reply's
    std::string text;     ///< every line's text, joined by a space; the enhanced code stays in it
    std::vector<std::string> lines; ///< each line's text (EHLO's keywords are one a line)

    int kind() const noexcept { return code / 100; } ///< 2, 3, 4 or 5
    bool positive() const noexcept { return kind() == 2 || kind() == 3; }
    /// "250 2.1.5 Ok": what a report and a deferral keep of the reply.
    std::string line() const { return std::to_string(code) + ' ' + text; }
};

// RFC 5321 §4.5.3.1.5 asks servers for 512 octets a line; some send longer
// banners, so twice the command line is allowed, and no reply is more than
// 100 lines (a server that never ends one is hostile).
inline constexpr std::size_t max_reply_line = 2048;
inline constexpr std::size_t max_reply_lines = 100;

enum class parse_status { complete, need_more, malformed };

struct parse_outcome {
    parse_status status = parse_status::need_more;
    std::size_t used = 0; ///< bytes of the input that the complete reply took
    const char* error = ""; ///< why it is malformed
};

inline bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// RFC 3463 class.subject.detail at the start of `text`, each part 1-3 digits;
// the length of the code, or 0.
inline std::size_t enhanced_code_length(std::string_view text) noexcept {
    std::size_t i = 0;
    for (int part = 0; part < 3; ++part) {
        const std::size_t start = i;
        while (i < text.size() && is_digit(text[i]) && i - start < 3) ++i;
        if (i == start || (part == 0 && i - start != 1)) return 0;
        if (part < 2) {
            if (i >= text.size() || text[i] != '.') return 0;
            ++i;
        }
    }
    return i == text.size() || text[i] == ' ' ? i : 0;
}

// Postfix's rule (smtp_chat.c): the enhanced code's class must be the reply's;
// when it is not, or there is none, it becomes X.0.0.
inline std::string sanitised_enhanced(int code, std::string_view text) {
    const char cls = static_cast<char>('0' + code / 100);
    const std::size_t n = enhanced_code_length(text);
    if (n && text[0] == cls && (cls == '2' || cls == '4' || cls == '5')) return std::string(text.substr(0, n));
    if (cls == '2' || cls == '4' || cls == '5') return std::string(1, cls) + ".0.0";
    return "5.5.0";
}

/// Whether a reply to RCPT means "too many recipients" (RFC 5321
/// §4.5.3.1.10), so that the recipient may go in another transaction: a 452
/// whose enhanced code is 4.5.3, or, without one of the server's own (its
/// sanitised code is then 4.0.0), whose text says "too many". Any other 452 (a full mailbox, 4.2.2; no room, 4.3.1) is
/// about the recipient, which waits.
inline bool too_many_recipients(const reply& r) {
    if (r.code != 452) return false;
    if (enhanced_code_length(r.text) != 0) return r.enhanced == "4.5.3";
    constexpr std::string_view phrase = "too many";
    const auto found = std::search(r.text.begin(), r.text.end(), phrase.begin(), phrase.end(), [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) == b;
    });
    return found != r.text.end();
}

/// Reads one reply from the front of `input` into `out`. Lines may end in
/// CR LF or a bare LF (both are seen in the wild).
inline parse_outcome parse_reply(std::string_view input, reply& out) {
    out = reply{};
    std::size_t pos = 0;
    for (std::size_t lines = 0;; ++lines) {
        if (lines == max_reply_lines) return {parse_status::malformed, 0, "reply of more than 100 lines"};
        const std::size_t end = input.find('\n', pos);
        if (end == std::string_view::npos) {
            if (input.size() - pos > max_reply_line) return {parse_status::malformed, 0, "reply line too long"};
            return {parse_status::need_more, 0, ""};
        }
        std::string_view line = input.substr(pos, end - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.size() > max_reply_line) return {parse_status::malformed, 0, "reply line too long"};
        if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]) || line[0] < '2' ||
            line[0] > '5')
            return {parse_status::malformed, 0, "reply line without a reply code"};
        if (line.size() > 3 && line[3] != ' ' && line[3] != '-')
            return {parse_status::malformed, 0, "reply code not followed by a space or a hyphen"};
        const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
        if (lines == 0) out.code = code;
        else if (code != out.code) return {parse_status::malformed, 0, "reply lines with different codes"};
        std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view{};
        std::string& clean = out.lines.emplace_back();
        for (char c : text) clean += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
        if (!out.text.empty() && !clean.empty()) out.text += ' ';
        out.text += clean;
        pos = end + 1;
        if (line.size() == 3 || line[3] == ' ') break;
    }
    out.enhanced = sanitised_enhanced(out.code, out.text);
    return {parse_status::complete, pos, ""};
}

} // namespace spool::detail::smtp
