// Fuzz target: the DATA encoder on any text a renderer could give it (bare CR
// or LF, lone dots, lines of any length, any octets). The data must keep
// SMTP's promises (spool_fuzz::require_message_data), so that no text can end
// the data early or smuggle a command; and it must carry every octet of the
// text other than its line ends, in order, adding only stuffed dots and the
// spaces that continue a line broken at 998 octets.

#include "input_fields.hpp"

#include <spool/smtp/detail/wire.hpp>

#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    std::string wire;
    spool::detail::smtp::append_data(wire, text);
    spool_fuzz::require_message_data(wire);

    const std::string_view body = std::string_view(wire).substr(0, wire.size() - 3); // without ". CR LF"
    std::size_t at = 0, added = 0;
    for (char c : text) {
        if (c == '\r' || c == '\n') continue;
        while (at < body.size() && body[at] != c) {
            if (body[at] != '\r' && body[at] != '\n') {
                spool_fuzz::require(body[at] == '.' || body[at] == ' ');
                ++added;
            }
            ++at;
        }
        spool_fuzz::require(at < body.size()); // the octet is there, after the one before
        ++at;
    }
    spool_fuzz::require(added <= text.size() / 998 + text.size() + 1);
    return 0;
}
