#pragma once

// std::format for spool's printable types, where the standard library has
// <format> (libstdc++ 13, libc++ 17, MSVC 19.29 and later). Kept out of
// <spool/spool.hpp>: <format> is heavy to compile, and most users print with
// iostreams (operator<< is in <spool/message.hpp>) or fmt (format_as).
//
//     std::format("message {} sent", id);

#include <spool/message.hpp>

#include <cstdint>
#include <version>

#if defined(__cpp_lib_format)
#include <format>

template <class CharT>
struct std::formatter<spool::message_id, CharT> : std::formatter<std::uint64_t, CharT> {
    auto format(spool::message_id id, auto& context) const {
        return std::formatter<std::uint64_t, CharT>::format(static_cast<std::uint64_t>(id), context);
    }
};
#endif
