#pragma once

// What the spooler tells about its work: one pass, and the counts since it was made.

#include <spool/message.hpp>

#include <cstddef>
#include <optional>
#include <system_error>

namespace spool {

/// What one pass of the spooler did.
struct run_report {
    std::size_t examined = 0;  ///< queue entries looked at
    std::size_t processed = 0; ///< messages taken for hand-off (or preprocessed)
    std::size_t finished = 0;  ///< messages done: every recipient sent or failed
    std::size_t deferred = 0;  ///< messages kept for a later attempt
    std::size_t waiting = 0;   ///< messages not yet due, skipped
    std::size_t received = 0;  ///< incoming messages committed
    std::size_t store_errors = 0;
    std::size_t in_flight = 0; ///< hand-offs still running (or held back by a limit) when the pass ended
    std::optional<time_point> next_due; ///< the earliest time a waiting message or hand-off is due
};

/// Counters since the spooler was made; a snapshot.
struct spooler_stats {
    std::size_t messages_finished = 0;
    std::size_t messages_received = 0;
    std::size_t reports_generated = 0;
    std::size_t recipients_sent = 0;
    std::size_t recipients_failed = 0;
    std::size_t recipients_deferred = 0;
    std::size_t preprocessing_failures = 0;
    std::size_t postprocessing_failures = 0;
    std::size_t receive_failures = 0;
    std::size_t outbound_hook_failures = 0;
    std::size_t observer_failures = 0;
    std::size_t store_errors = 0;
    std::error_code last_store_error;
};

} // namespace spool
