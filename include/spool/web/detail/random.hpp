#pragma once

// Randomness for salts, session ids and CSRF tokens: the kernel's generator,
// and comparisons whose time does not depend on where two secrets differ.

#include <sys/random.h>

#include <cerrno>
#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>

namespace spool::detail::web {

inline std::string random_bytes(std::size_t n) {
    std::string out(n, '\0');
    for (std::size_t got = 0; got < n;) {
        const ssize_t r = ::getrandom(out.data() + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::generic_category(), "getrandom");
        }
        got += static_cast<std::size_t>(r);
    }
    return out;
}

/// `n` random bytes as lower-case hex: a session id, a CSRF token.
inline std::string random_token(std::size_t n = 32) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : random_bytes(n)) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

/// Equal sizes are compared in full, whatever differs first.
inline bool same_bytes(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

} // namespace spool::detail::web
