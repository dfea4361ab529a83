#pragma once

// Bitwise operators for spool's flag enums (message_flags, submit_flags), and
// for a user's own: an enum opts in by specialising enable_flag_operators; a
// plain enum class stays closed.
//
//     enum class my_flags : unsigned { a = 1, b = 2 };
//     template <> inline constexpr bool spool::enable_flag_operators<my_flags> = true;

#include <type_traits>

namespace spool {

template <class E>
inline constexpr bool enable_flag_operators = false;

/// An enum whose values combine as bits: it opted in through enable_flag_operators.
template <class E>
concept flag_enum = std::is_enum_v<E> && enable_flag_operators<E>;

template <flag_enum E>
constexpr E operator|(E a, E b) noexcept {
    using U = std::underlying_type_t<E>;
    return static_cast<E>(static_cast<U>(a) | static_cast<U>(b));
}
template <flag_enum E>
constexpr E operator&(E a, E b) noexcept {
    using U = std::underlying_type_t<E>;
    return static_cast<E>(static_cast<U>(a) & static_cast<U>(b));
}
template <flag_enum E>
constexpr E operator~(E a) noexcept {
    using U = std::underlying_type_t<E>;
    return static_cast<E>(~static_cast<U>(a));
}
template <flag_enum E>
constexpr E& operator|=(E& a, E b) noexcept { return a = a | b; }
template <flag_enum E>
constexpr E& operator&=(E& a, E b) noexcept { return a = a & b; }

/// True when every bit of `bits` is set in `value`.
template <flag_enum E>
constexpr bool has(E value, E bits) noexcept { return (value & bits) == bits; }

} // namespace spool
