#pragma once

// The action log: who did what to the queue, on what, and how it went,
// written by the dashboard and by spoolctl into the spool's own database
// (docs/web.md, "The action log"), so that an operator's change can be
// traced later by whoever runs the service.

#include <spool/clock.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace spool {

/// One entry of the action log.
struct logged_action {
    std::int64_t key = 0; ///< given by the store when logged; a later entry has a higher key
    time_point at{};
    std::string who;    ///< the user, and through what: "olga (web)", "root (spoolctl)"
    std::string action; ///< hold, release, flush, expire, delete, delete_with_report, suppress, unsuppress
    std::string target; ///< what it applied to: "message 17", "messages 4, 9", "matching state=held, up to 1234", an address
    std::uint64_t done = 0;    ///< messages (or entries) changed
    std::uint64_t refused = 0; ///< not changed: no longer queued, or unknown
    std::uint64_t skipped = 0; ///< left alone on purpose: arrived after the count
    friend bool operator==(const logged_action&, const logged_action&) = default;
};

/// How long the action log keeps an entry unless told otherwise.
inline constexpr std::chrono::hours default_action_log_retention{24 * 90};

} // namespace spool
