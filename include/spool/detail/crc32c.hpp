#pragma once

// CRC-32C (Castagnoli, the polynomial iSCSI and ext4 use), for the checksum a
// stored message carries. A byte-at-a-time table: simple, and fast enough
// beside the SQLite write it guards (docs/performance.md).

#include <array>
#include <cstdint>
#include <string_view>

namespace spool::detail {

inline constexpr std::array<std::uint32_t, 256> crc32c_table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        t[i] = c;
    }
    return t;
}();

inline std::uint32_t crc32c(std::string_view bytes) noexcept {
    std::uint32_t c = 0xffffffffu;
    for (char b : bytes) c = crc32c_table[(c ^ static_cast<std::uint8_t>(b)) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

} // namespace spool::detail
