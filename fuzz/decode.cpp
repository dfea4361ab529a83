// Fuzz target: decoding a stored message. Any bytes either decode or are
// refused; what decodes encodes again to a record that decodes to the same
// message (the checksum and every length agree).

#include <spool/mail/codec.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    const auto decoded = spool::decode<spool::mail_payload>(bytes);
    if (!decoded) {
        if (decoded.error() != spool::errc::corrupt_message && decoded.error() != spool::errc::format_too_new) std::abort();
        return 0;
    }
    const auto again = spool::decode<spool::mail_payload>(spool::encode(*decoded));
    if (!again || !(*again == *decoded)) std::abort();
    return 0;
}
