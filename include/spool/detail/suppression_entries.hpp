#pragma once

// Which failures the suppression list gains (docs/suppression.md): one the
// policy's codes name, for an address not listed yet. A failure the spool
// recorded itself and one a report mailed back says are listed alike.

#include <spool/message.hpp>
#include <spool/suppression.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace spool::detail {

/// The entry `failure` of `address` adds, caused by message `source`; none
/// when the policy does not suppress its code, or the address is listed
/// already (or the list cannot be read now: the next failure adds it).
template <class Core>
std::optional<suppression_entry> suppression_entry_for(Core& core, std::string_view address, const status::failed& failure,
                                                       message_id source, time_point now) {
    const suppression_policy& policy = core.suppression();
    if (!policy.suppresses(failure.diagnostic)) return std::nullopt;
    std::string key = suppression_key(address, policy.fold_local_part);
    const auto listed = core.store().find_suppression(key, now);
    if (!listed || *listed) return std::nullopt;
    std::optional<time_point> expires;
    if (policy.lifetime) expires = now + *policy.lifetime;
    return suppression_entry{std::move(key), failure.reason, failure.diagnostic, now, expires, source};
}

} // namespace spool::detail
