#pragma once

// What the fuzz targets share: the input split into texts, and the one way a
// target reports a broken promise (abort, which libFuzzer and the replay
// driver both catch).

#include <algorithm>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace spool_fuzz {

inline void require(bool ok) {
    if (!ok) std::abort();
}

/// The input split at NUL bytes, then taken in turn (empty once it runs out).
class input_fields {
public:
    explicit input_fields(std::string_view in) {
        for (std::size_t at = 0; at <= in.size();) {
            const auto end = std::min(in.find('\0', at), in.size());
            parts_.emplace_back(in.substr(at, end - at));
            at = end + 1;
        }
    }
    std::string next() { return i_ < parts_.size() ? parts_[i_++] : std::string{}; }
    bool more() const { return i_ < parts_.size(); }

private:
    std::vector<std::string> parts_;
    std::size_t i_ = 0;
};

/// Every CR is followed by LF, and every LF follows a CR.
inline bool crlf_only(std::string_view text) {
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\r' && (i + 1 >= text.size() || text[i + 1] != '\n')) return false;
        if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) return false;
    }
    return true;
}

/// The lines of CR LF text, without their ends (the text must end in CR LF).
inline std::vector<std::string_view> lines_of(std::string_view text) {
    std::vector<std::string_view> out;
    for (std::size_t at = 0; at < text.size();) {
        const auto end = text.find("\r\n", at);
        require(end != std::string_view::npos);
        out.push_back(text.substr(at, end - at));
        at = end + 2;
    }
    return out;
}

/// The promises of SMTP message data (RFC 5321 §4.5.2, §4.5.3.1.6) whatever
/// the text: CR LF only; no line over 998 octets; ended by a lone dot, and no
/// other line a lone dot, or any line starting with a dot not stuffed.
inline void require_message_data(std::string_view wire) {
    require(crlf_only(wire) && wire.ends_with(".\r\n"));
    const auto lines = lines_of(wire);
    require(!lines.empty() && lines.back() == ".");
    for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
        require(lines[i].size() <= 998);
        require(lines[i].empty() || lines[i].front() != '.' || (lines[i].size() >= 2 && lines[i][1] == '.'));
    }
}

} // namespace spool_fuzz
