#pragma once

// One round of handing a message's recipients to transports, shared by the
// spooler and by a tightly coupled store's submit. Also the state changes that
// settle a recipient or a whole message, so both paths apply them alike.

#include <spool/address_types.hpp>
#include <spool/detail/guarded.hpp>
#include <spool/message.hpp>
#include <spool/transmission.hpp>

#include <algorithm>
#include <utility>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace spool::detail {

// RFC 3463 codes for the failures the spooler itself decides.
inline constexpr const char* no_route_diagnostic = "5.4.4";       // unable to route
inline constexpr const char* expired_diagnostic = "5.4.7";        // delivery time expired
inline constexpr const char* administrator_diagnostic = "5.3.0";  // other or undefined mail system status (RFC 3463)
inline constexpr const char* preprocessing_diagnostic = "5.6.0";  // content could not be prepared

/// What the spooler remembers of a transport between rounds: how long its
/// messaging system said it is away (MAPI_E_WAIT / MAPI_E_NETWORK_ERROR).
struct transport_state {
    time_point unavailable_until{};
    std::string reason;
};

/// Gives a recipient its final or new status (any of recipient_status's alternatives, or one).
template <class Status>
void settle(recipient& r, Status&& s) {
    r.status = std::forward<Status>(s);
    r.responsibility = true;
}

inline void fail(recipient& r, std::string reason, std::string diagnostic) {
    settle(r, status::failed{std::move(reason), std::move(diagnostic)});
}

/// Recipients still wanting a transport, now or later.
inline bool awaiting_transport(const recipient& r) noexcept { return !r.responsibility && !r.settled(); }

/// Attempts made for the recipient so far.
inline unsigned attempts(const recipient& r) noexcept {
    const auto* d = std::get_if<status::deferred>(&r.status);
    return d ? d->attempts : 0;
}

/// Another attempt at `at`; the attempt count grows.
inline void defer_recipient(recipient& r, time_point at, std::string reason, std::string diagnostic) {
    r.status = status::deferred{at, std::move(reason), attempts(r) + 1, std::move(diagnostic)};
}

/// Applies what a transport reported for one recipient, and resets the slot
/// for its next use. `retry_at(attempts)`: when a recipient deferred without
/// a delay is tried again. True when the recipient was deferred.
template <class RetryAt>
bool apply_outcome(recipient_outcome& o, recipient& r, time_point now, time_point deadline, RetryAt&& retry_at) {
    const auto what = std::exchange(o.what, recipient_outcome::kind::none);
    switch (what) {
    case recipient_outcome::kind::none:
        return false; // declined
    case recipient_outcome::kind::sent:
        settle(r, status::sent{o.at, o.action}); // every sent outcome sets its action
        return false;
    case recipient_outcome::kind::failed:
        fail(r, std::move(o.reason), std::move(o.diagnostic));
        return false;
    case recipient_outcome::kind::deferred: {
        const time_point at = o.at > now ? o.at : retry_at(attempts(r) + 1);
        defer_recipient(r, std::min(at, deadline), std::move(o.reason), std::move(o.diagnostic));
        return true;
    }
    }
    return false;
}

/// A preprocessor registered for `types` applies while a recipient of one of
/// those types still waits for a transport (at submit, and again in the spooler).
template <class Message>
bool preprocessor_applies(const spool::address_types& types, const Message& m) {
    // A loop rather than std::any_of: with any_of a message costs 1.7 % more
    // instructions (callgrind, benchmarks/instruction_counts.py), over the 1 % a
    // hand-written form must save to be kept.
    for (const recipient& r : m.recipients)
        if (awaiting_transport(r) && types.matches(r.address_type)) return true;
    return false;
}

/// When the message next needs the spooler: now if a recipient is ready (or
/// none is open, so it can finish), else the earliest next attempt, never
/// past the deadline.
template <class Message>
time_point next_due(const Message& m, time_point now, time_point deadline) {
    std::optional<time_point> earliest;
    for (const recipient& r : m.recipients) {
        if (!awaiting_transport(r)) continue;
        const auto* d = std::get_if<status::deferred>(&r.status);
        if (!d || d->next_attempt <= now) return now;
        earliest = earliest ? std::min(*earliest, d->next_attempt) : d->next_attempt;
    }
    return earliest ? std::min(*earliest, deadline) : now;
}

/// The message's remaining recipients fail: it waited past the retry policy's maximum lifetime.
template <class Message>
void expire(Message& m, std::chrono::seconds lifetime) {
    for (recipient& r : m.recipients) {
        if (!awaiting_transport(r)) continue;
        std::string reason = "not delivered within the maximum lifetime of " + std::to_string(lifetime.count()) + " s";
        if (const auto* d = std::get_if<status::deferred>(&r.status)) reason += " (last: " + d->reason + ")";
        fail(r, std::move(reason), expired_diagnostic);
    }
}

/// An administrator's expire or removal (admin_request), as the spooler
/// applies it: the remaining recipients fail, with a report unless the
/// request is a silent removal. True when the message is then deleted.
template <class Message>
bool apply_request(Message& m, admin_request request) {
    const bool silent = request == admin_request::remove;
    for (recipient& r : m.recipients) {
        if (!awaiting_transport(r)) continue;
        std::string reason = request == admin_request::expire ? "expired by the administrator" : "deleted by the administrator";
        if (const auto* d = std::get_if<status::deferred>(&r.status)) reason += " (last: " + d->reason + ")";
        fail(r, std::move(reason), request == admin_request::expire ? expired_diagnostic : administrator_diagnostic);
        if (silent) r.reported = true; // decided: no report
    }
    return request != admin_request::expire;
}

/// An administrator's flush: every deferred recipient is due now.
template <class Message>
void flush(Message& m, time_point now) {
    for (recipient& r : m.recipients)
        if (auto* d = std::get_if<status::deferred>(&r.status); d && awaiting_transport(r)) d->next_attempt = std::min(d->next_attempt, now);
}

/// MAPI FinishedMsg's flag changes: no longer submitted or unsent, read.
/// A message that reached nobody is never deleted after submit: it is the only
/// copy of what failed, so it stays where it is for the user to see or resend.
template <class Message>
void mark_finished(Message& m, bool reached_anyone) {
    m.flags = (m.flags & ~(message_flags::submitted | message_flags::unsent)) | message_flags::read;
    m.submission = submit_flags::none;
    if (!reached_anyone && std::holds_alternative<disposition::delete_after_submit>(m.sent_mail))
        m.sent_mail = disposition::leave_in_place{};
}

/// The order in which a round offers recipients to transports (MAPI: exact
/// address types first, catch-alls after, each group in composed order): the
/// address types at each step, and each transport's step. Transports are
/// numbered 0 to Positions - 1 in composed order. Address types do not change
/// while the spooler runs, so it is made once.
template <std::size_t Positions>
class offer_order {
public:
    static constexpr std::uint8_t not_offered = 0xFF;

    /// `types_at(i)`: the address types of transport i (nullptr: none).
    template <class TypesAt>
    explicit offer_order(TypesAt&& types_at) {
        static_assert(Positions < not_offered, "spool: too many composed transports");
        step_of_.fill(not_offered);
        for (bool exact : {true, false}) {
            for (std::size_t i = 0; i < Positions; ++i)
                if (const spool::address_types* t = types_at(i); t && t->catch_all() != exact) {
                    step_of_[i] = static_cast<std::uint8_t>(size_);
                    steps_[size_++] = t;
                }
            if (exact) exact_steps_ = size_;
        }
    }

    /// Whether transport i matches exact address types (not a catch-all).
    bool exact(std::size_t i) const noexcept { return step_of_[i] < exact_steps_; }

    std::span<const spool::address_types* const> steps() const noexcept { return {steps_.data(), size_}; }
    /// The step of transport i.
    std::size_t step_of(std::size_t i) const noexcept { return step_of_[i]; }

private:
    std::array<const spool::address_types*, Positions> steps_{};
    std::array<std::uint8_t, Positions> step_of_{};
    std::size_t size_ = 0;
    std::size_t exact_steps_ = 0; // the steps before the first catch-all
};

/// Where a recipient is in a round: the step of the offer order it waits for,
/// or one of dispatch_round's marks. An enum rather than std::uint8_t because a
/// store through a character type may alias anything, and every loop of a
/// round would then reload what it reads after each store.
enum class route_mark : std::uint8_t {};

/// The buffers a dispatch round works in. The spooler keeps one and reuses it
/// for every message, so a round allocates nothing once they have grown.
struct dispatch_scratch {
    std::vector<route_mark> route; // per recipient
    std::vector<std::size_t> assigned;
    std::vector<recipient_outcome> outcomes;
};

/// One round of offers for one message. Each recipient due now is routed once,
/// to the first step whose address types match it; a transport that declines
/// it passes it on to the next matching step. Offering is then a scan for the
/// recipients waiting at a step, not a string comparison per transport.
template <class Message>
class dispatch_round {
public:
    /// `steps`: the address types at each step of the offer order.
    dispatch_round(Message& m, time_point now, time_point deadline, std::span<const spool::address_types* const> steps,
                   dispatch_scratch& scratch)
        : message_(m), now_(now), deadline_(deadline), steps_(steps), scratch_(scratch) {
        // Every buffer gets room for every recipient, once per round. Outcome
        // slots only grow, so their strings keep their memory between rounds.
        auto& route = scratch_.route;
        route.resize(m.recipients.size());
        scratch_.assigned.resize(m.recipients.size());
        if (scratch_.outcomes.size() < m.recipients.size()) scratch_.outcomes.resize(m.recipients.size());
        for (std::size_t i = 0; i < route.size(); ++i) {
            const recipient& r = m.recipients[i];
            const auto* d = std::get_if<status::deferred>(&r.status);
            route[i] = awaiting_transport(r) && (!d || d->next_attempt <= now) ? route_from(r, 0) : done_here;
        }
    }

    /// Offers `transport`, at `step` of the offer order, the recipients waiting for that step, once.
    template <class Transport, class Backoff>
    void offer(Transport& transport, std::size_t step, transport_state& state, Backoff&& backoff) {
        auto& route = scratch_.route;
        std::size_t count = 0;
        for (std::size_t i = 0; i < route.size(); ++i)
            if (route[i] == at(step)) scratch_.assigned[count++] = i;
        if (count == 0) return;
        // (pointer, size) spans: the range constructors' constraints are costly to compile.
        const std::span<const std::size_t> assigned(scratch_.assigned.data(), count);

        if (state.unavailable_until > now_) { // still away: do not call it again before it said
            for (std::size_t i : assigned) defer(i, state.unavailable_until, state.reason);
            return;
        }

        // Every slot is of kind none here: the loop below resets what it reads.
        const std::span<recipient_outcome> outcomes(scratch_.outcomes.data(), count);
        transmission<Message> tx(handoff_key_maker::make(), message_, assigned, outcomes, now_);
        const transmit_result result = call(transport, tx);
        const auto what = result.what();
        if (what == transmit_result::kind::retry_after)
            state = {now_ + std::max(result.delay(), std::chrono::seconds{1}), result.reason()};

        for (std::size_t k = 0; k < count; ++k) {
            const std::size_t i = assigned[k];
            recipient& r = message_.recipients[i];
            if (what != transmit_result::kind::not_me &&
                apply_outcome(outcomes[k], r, now_, deadline_, [&](unsigned n) { return now_ + backoff(n); })) {
                route[i] = done_here;
                ++deferred_;
                continue;
            }
            outcomes[k].what = recipient_outcome::kind::none;
            if (r.responsibility) {
                route[i] = done_here;
                continue;
            }
            switch (what) {
            case transmit_result::kind::done:
            case transmit_result::kind::not_me: // declined: the next matching transport may take it
                route[i] = route_from(r, step + 1);
                break;
            case transmit_result::kind::retry_after:
                defer(i, state.unavailable_until, result.reason());
                break;
            case transmit_result::kind::busy:
            case transmit_result::kind::site_failure: // a coupled store has no destinations to mark down
                defer(i, now_ + backoff(attempts(r) + 1), result.reason(), result.diagnostic());
                break;
            case transmit_result::kind::message_failed:
                fail(r, result.reason(), result.diagnostic());
                route[i] = done_here;
                break;
            }
        }
    }

    /// Ends the round: recipients in play that no transport took get
    /// non-delivery status. Returns how many recipients the round deferred.
    std::size_t finish() {
        for (std::size_t i = 0; unrouted_ > 0 && i < scratch_.route.size(); ++i)
            if (scratch_.route[i] == unrouted) {
                --unrouted_;
                recipient& r = message_.recipients[i];
                fail(r, "no transport accepted address type '" + r.address_type + "'", no_route_diagnostic);
            }
        return deferred_;
    }

private:
    static constexpr route_mark done_here{0xFF}; // not in play, taken, or deferred in this round
    static constexpr route_mark unrouted{0xFE};  // in play, and no step left matches it
    static constexpr route_mark at(std::size_t step) noexcept { return static_cast<route_mark>(step); }

    route_mark route_from(const recipient& r, std::size_t step) {
        for (; step < steps_.size(); ++step)
            if (steps_[step]->matches(r.address_type)) return at(step);
        ++unrouted_;
        return unrouted;
    }

    // A transport that throws is treated as busy: the message is kept and tried again.
    template <class Transport>
    static transmit_result call(Transport& transport, transmission<Message>& tx) {
        return guarded([&] { return transport.transmit(tx); },
                       [](const std::string& what) { return transmit_result::busy("transport threw: " + what); });
    }

    void defer(std::size_t i, time_point at, const std::string& reason, const std::string& diagnostic = {}) {
        defer_recipient(message_.recipients[i], std::min(at, deadline_), reason, diagnostic);
        scratch_.route[i] = done_here;
        ++deferred_;
    }

    Message& message_;
    time_point now_;
    time_point deadline_;
    std::span<const spool::address_types* const> steps_;
    dispatch_scratch& scratch_;
    std::size_t deferred_ = 0;
    std::size_t unrouted_ = 0; // recipients for finish() to fail
};

} // namespace spool::detail
