#pragma once

// Delayed-delivery reports (RFC 3464 Action: delayed): telling a sender that
// a message is still waiting, long before its lifetime ends
// (docs/delay-warnings.md).

#include <spool/tags.hpp>

#include <chrono>

namespace spool {

/// A setting (compose it with the spooler) that sends one delayed-delivery
/// report for each recipient still not delivered `after` its message was
/// submitted (time on hold does not count), unless the sender suppressed it
/// (report_requests::delay_suppressed or non_delivery_suppressed). The
/// report carries the last deferral's reason and diagnostic and when the
/// spooler will give up (Will-Retry-Until). It is made at the first pass
/// over the message at or after that time, as Postfix's delay_warning_time
/// is; not composed, no delay report is made, as Postfix's default.
struct delay_warning {
    using spool_concept = setting_tag;

    /// How long a recipient may wait before its sender hears of it; 4 h is
    /// the value Postfix's documentation suggests.
    std::chrono::seconds after{std::chrono::hours(4)};
};

} // namespace spool
