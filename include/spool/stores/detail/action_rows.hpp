#pragma once

// The action log's rows as both durable stores keep them, in the order both
// stores' statements select them: key, at (ns since the epoch), who, action,
// target, done, refused, skipped.

#include <spool/action_log.hpp>
#include <spool/stores/detail/queue_columns.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>

namespace spool::detail {

/// A count as an SQL integer column keeps it (signed 64 bits).
inline std::int64_t stored_count(std::uint64_t n) {
    return static_cast<std::int64_t>(std::min<std::uint64_t>(n, std::numeric_limits<std::int64_t>::max()));
}

struct action_columns {
    template <class Row>
    static logged_action read(const Row& r) {
        return {r.integer(0),
                stored_time(r.integer(1)),
                r.text(2),
                r.text(3),
                r.text(4),
                static_cast<std::uint64_t>(r.integer(5)),
                static_cast<std::uint64_t>(r.integer(6)),
                static_cast<std::uint64_t>(r.integer(7))};
    }
};

} // namespace spool::detail
