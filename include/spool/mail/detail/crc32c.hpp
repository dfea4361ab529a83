#pragma once

// CRC-32C (Castagnoli, the polynomial iSCSI and ext4 use), for the checksum a
// stored message carries. Every record is summed when written and when
// loaded, so the speed shows: per message through the SQLite store, a byte at
// a time added 19 % to the instructions, eight bytes a step through eight
// tables ("slicing by 8") 9 %, and the processor's own CRC-32C instruction
// (SSE 4.2, on x86-64 with GCC or Clang, checked at run time) about 1 %
// (callgrind; docs/performance.md). The tables serve everywhere else.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define SPOOL_DETAIL_CRC32C_SSE42 1
#endif

namespace spool::detail {

// tables[0] is the classic byte table; tables[k] advances a byte's effect k bytes further.
inline constexpr auto crc32c_tables = [] {
    std::array<std::array<std::uint32_t, 256>, 8> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        t[0][i] = c;
    }
    for (std::size_t k = 1; k < 8; ++k)
        for (std::size_t i = 0; i < 256; ++i) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
    return t;
}();

inline std::uint32_t crc32c_tables_sum(std::string_view bytes) noexcept {
    const auto& t = crc32c_tables;
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    std::size_t n = bytes.size();
    auto word = [](const unsigned char* q) {
        return static_cast<std::uint32_t>(q[0]) | static_cast<std::uint32_t>(q[1]) << 8 |
               static_cast<std::uint32_t>(q[2]) << 16 | static_cast<std::uint32_t>(q[3]) << 24;
    };
    std::uint32_t c = 0xffffffffu;
    for (; n >= 8; p += 8, n -= 8) {
        const std::uint32_t lo = c ^ word(p), hi = word(p + 4);
        c = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^ t[3][hi & 0xff] ^
            t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
    }
    for (; n > 0; ++p, --n) c = t[0][(c ^ *p) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

#ifdef SPOOL_DETAIL_CRC32C_SSE42
__attribute__((target("sse4.2"))) inline std::uint32_t crc32c_sse42_sum(std::string_view bytes) noexcept {
    const char* p = bytes.data();
    std::size_t n = bytes.size();
    std::uint64_t c = 0xffffffffu;
    for (; n >= 8; p += 8, n -= 8) {
        std::uint64_t word;
        __builtin_memcpy(&word, p, 8);
        c = _mm_crc32_u64(c, word);
    }
    auto c32 = static_cast<std::uint32_t>(c);
    for (; n > 0; ++p, --n) c32 = _mm_crc32_u8(c32, static_cast<unsigned char>(*p));
    return c32 ^ 0xffffffffu;
}
#endif

inline std::uint32_t crc32c(std::string_view bytes) noexcept {
#ifdef SPOOL_DETAIL_CRC32C_SSE42
    static const bool hardware = __builtin_cpu_supports("sse4.2");
    if (hardware) return crc32c_sse42_sum(bytes);
#endif
    return crc32c_tables_sum(bytes);
}

} // namespace spool::detail
