#pragma once

// How much a spooler hands to one transport and one destination at once, and
// what it knows of each destination's health.

#include <spool/message.hpp>

#include <chrono>
#include <cstddef>
#include <string>

namespace spool {

/// A transport's delivery limits; set with spooler::limits<Transport>(…).
/// The defaults are Postfix's where it has one.
struct delivery_limits {
    /// Hand-offs to the transport at once. 0: the transport's own
    /// `static constexpr std::size_t max_in_flight` if it declares one, else
    /// 1 for a synchronous transport (today's behaviour: inline, one at a
    /// time) and 100 for an asynchronous one (Postfix's default_process_limit).
    /// A synchronous transport given more than 1 runs on that many worker
    /// threads that the spooler owns.
    std::size_t max_in_flight = 0;
    /// Hand-offs to one destination at once. 0: 20 for each destination the
    /// transport names (Postfix's default_destination_concurrency_limit), and
    /// max_in_flight for the one destination of a transport that names none
    /// (its limit is the transport's: a limit of 20 there would cap
    /// max_in_flight = 64 at 20).
    std::size_t destination_concurrency = 0;
    /// Hand-offs started per second to one destination, 0 for no limit (a
    /// sending quota; Postfix's smtp_destination_rate_delay is 1 / this).
    unsigned destination_rate = 0;
    /// Site failures in a row after which a destination is marked down
    /// (destination_concurrency_failed_cohort_limit).
    unsigned failed_cohort_limit = 1;
    /// How long a destination stays down before one probe hand-off decides whether it is back.
    std::chrono::seconds cool_down{300};
};

/// One destination as the spooler sees it now.
struct destination_health {
    enum class state {
        up,      ///< taking hand-offs
        down,    ///< cooling down after site failures; nothing is handed to it before next_probe
        probing, ///< one probe hand-off is in flight; the rest wait for its outcome
    };
    std::size_t transport = 0; ///< the transport's position among the composed transports, from 0
    std::string destination;   ///< the key the transport gave (empty: its only destination)
    state what = state::up;
    std::size_t in_flight = 0;
    std::size_t waiting = 0;   ///< hand-offs held back by a limit
    unsigned consecutive_failures = 0;
    time_point next_probe{};   ///< meaningful while down
    std::string last_error;    ///< the reason of the last site failure
    std::size_t limit = 0;     ///< hand-offs to it allowed at once (delivery_limits::destination_concurrency, resolved)
};

} // namespace spool
