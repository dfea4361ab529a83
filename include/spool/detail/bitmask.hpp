#pragma once

#include <type_traits>

namespace spool::detail {

// Flag enums opt in to bitwise operators; a plain enum class stays closed.
template <class E>
inline constexpr bool is_bitmask = false;

template <class E>
concept bitmask = std::is_enum_v<E> && is_bitmask<E>;

} // namespace spool::detail

namespace spool {

template <detail::bitmask E>
constexpr E operator|(E a, E b) noexcept {
    using U = std::underlying_type_t<E>;
    return static_cast<E>(static_cast<U>(a) | static_cast<U>(b));
}
template <detail::bitmask E>
constexpr E operator&(E a, E b) noexcept {
    using U = std::underlying_type_t<E>;
    return static_cast<E>(static_cast<U>(a) & static_cast<U>(b));
}
template <detail::bitmask E>
constexpr E operator~(E a) noexcept {
    using U = std::underlying_type_t<E>;
    return static_cast<E>(~static_cast<U>(a));
}
template <detail::bitmask E>
constexpr E& operator|=(E& a, E b) noexcept { return a = a | b; }
template <detail::bitmask E>
constexpr E& operator&=(E& a, E b) noexcept { return a = a & b; }

/// True when every bit of `bits` is set in `value`.
template <detail::bitmask E>
constexpr bool has(E value, E bits) noexcept { return (value & bits) == bits; }

} // namespace spool
