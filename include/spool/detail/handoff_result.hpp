#pragma once

// Applying what one hand-off reported, the one place that does: the
// spooler's hand-off stage, the coupled store's submit and the transport test
// kit all call apply_handoff_result. Per recipient: sent, deferred or failed
// as the transport reported it; otherwise what the hand-off's result says for
// all it left unreported (declined and offered on, deferred for the
// transport or its destination, or failed with the message).

#include <spool/detail/recipient_state.hpp>
#include <spool/detail/routing.hpp>
#include <spool/events.hpp>
#include <spool/message.hpp>
#include <spool/recipient_outcome.hpp>
#include <spool/transmission.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <utility>

namespace spool::detail {

/// What the spooler remembers of a transport between rounds: how long its
/// messaging system said it is away (MAPI_E_WAIT / MAPI_E_NETWORK_ERROR).
struct transport_state {
    time_point unavailable_until{};
    std::string reason;

    /// A retry_after result: the whole transport waits, at least a second.
    void away(time_point now, const transmit_result& result) {
        unavailable_until = now + std::max(result.delay(), std::chrono::seconds{1});
        reason = result.reason();
    }
    bool away_at(time_point now) const noexcept { return unavailable_until > now; }
};

/// What the applier needs to know besides the result, decided by whoever
/// scheduled the hand-off.
struct handoff_terms {
    time_point now{};
    time_point deadline = time_point::max(); // the message's lifetime: no attempt is set past it
    time_point unavailable_until{};          // after retry_after: when the transport is called again
    std::optional<time_point> site_retry;    // after a site failure: its destination's probe, else the retry policy
};

/// The hand-off's recipients in their round: the offer order, their marks,
/// and the step of the transport that had them.
struct round_place {
    std::span<route_mark> route;
    std::span<const spool::address_types* const> steps;
    std::size_t step = 0;
};

/// What applying one hand-off did to its message.
struct handoff_effect {
    std::size_t deferred = 0;  // recipients given a later attempt
    std::size_t unrouted = 0;  // declined, and no later step matches them
    bool changed = false;      // a status changed: the message has something to write
    bool passed_on = false;    // declined ones wait for a later step of this round
};

/// Defers recipient i of the round to `at` (never past the deadline): its
/// transport is away, busy, or its destination failed.
inline void defer_in_round(recipient& r, route_mark& mark, time_point at, time_point deadline, const std::string& reason,
                           const std::string& diagnostic, handoff_effect& e) {
    defer_recipient(r, std::min(at, deadline), reason, diagnostic);
    mark = done_here;
    ++e.deferred;
    e.changed = true;
}

/// Applies `result` and the per-recipient `outcomes` of the hand-off of
/// `assigned` (indices into m.recipients), and resets each outcome slot for
/// its next use. `retry_at(attempts)`: when a recipient deferred without a
/// time of its own is tried again (the retry policy).
template <class Message, class RetryAt>
handoff_effect apply_handoff_result(Message& m, std::span<const std::size_t> assigned, std::span<recipient_outcome> outcomes,
                                    const transmit_result& result, round_place place, const handoff_terms& terms,
                                    RetryAt&& retry_at) {
    handoff_effect e;
    const auto what = result.what();
    for (std::size_t k = 0; k < assigned.size(); ++k) {
        const std::size_t i = assigned[k];
        recipient& r = m.recipients[i];
        route_mark& mark = place.route[i];
        mark = done_here;
        recipient_outcome& o = outcomes[k];
        const auto recorded = std::exchange(o.what, recipient_outcome::kind::none);
        // not_me takes back everything, whatever the transmission recorded.
        const auto reported = what == transmit_result::kind::not_me ? recipient_outcome::kind::none : recorded;
        switch (reported) {
        case recipient_outcome::kind::sent:
            take_responsibility(r, status::sent{o.at, o.action}); // every sent outcome sets its action
            e.changed = true;
            continue;
        case recipient_outcome::kind::failed:
            fail(r, std::move(o.reason), std::move(o.diagnostic));
            e.changed = true;
            continue;
        case recipient_outcome::kind::deferred: {
            const time_point at = o.at > terms.now ? o.at : retry_at(attempts(r) + 1);
            defer_recipient(r, std::min(at, terms.deadline), std::move(o.reason), std::move(o.diagnostic));
            ++e.deferred;
            e.changed = true;
            continue;
        }
        case recipient_outcome::kind::none:
            break;
        }
        if (r.responsibility) continue; // settled before this hand-off (a transport may not take it back)
        switch (what) {
        case transmit_result::kind::done:
        case transmit_result::kind::not_me: // declined: the next matching transport may take it
            mark = next_route(r, place.step + 1, place.steps);
            if (mark == unrouted) ++e.unrouted;
            else e.passed_on = true;
            break;
        case transmit_result::kind::retry_after:
            defer_in_round(r, mark, terms.unavailable_until, terms.deadline, result.reason(), {}, e);
            break;
        case transmit_result::kind::busy:
            defer_in_round(r, mark, retry_at(attempts(r) + 1), terms.deadline, result.reason(), {}, e);
            break;
        case transmit_result::kind::site_failure:
            defer_in_round(r, mark, terms.site_retry ? *terms.site_retry : retry_at(attempts(r) + 1), terms.deadline,
                           result.reason(), result.diagnostic(), e);
            break;
        case transmit_result::kind::message_failed:
            fail(r, result.reason(), result.diagnostic());
            e.changed = true;
            break;
        }
    }
    return e;
}

/// Counts what a hand-off left its recipient as, for an observer of hand-offs.
inline void count_status(handoff_event& e, const recipient& r) {
    if (r.is_sent()) ++e.sent;
    else if (r.is_failed()) ++e.failed;
    else if (r.is_deferred()) ++e.deferred;
}

} // namespace spool::detail
