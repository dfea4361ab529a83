#pragma once

#include <spool/tags.hpp>

#include <algorithm>
#include <chrono>

namespace spool {

/// The default RetryPolicy. A recipient waiting on an unavailable system is
/// tried after `initial`, then twice as long each time up to `maximum`; after
/// `lifetime` from the client's submit it fails. The defaults are Postfix's
/// (minimal_backoff_time 300 s, maximal_backoff_time 4000 s, maximal_queue_lifetime 5 d).
struct exponential_backoff {
    using spool_concept = retry_policy_tag;

    std::chrono::seconds initial{300};
    std::chrono::seconds maximum{4000};
    std::chrono::seconds lifetime{std::chrono::hours(24 * 5)};

    std::chrono::seconds max_lifetime() const { return lifetime; }

    /// The wait before attempt `attempts + 1`, given `attempts` made so far (at least 1).
    std::chrono::seconds backoff(unsigned attempts) const {
        auto wait = initial;
        for (unsigned i = 1; i < attempts && wait < maximum; ++i) wait *= 2;
        return std::min(wait, maximum);
    }
};

} // namespace spool
