#pragma once

// One round of handing a message's recipients to transports, shared by the
// spooler and by a tightly coupled store's submit. Also the state changes that
// settle a recipient or a whole message, so both paths apply them alike.

#include <spool/address_types.hpp>
#include <spool/detail/guarded.hpp>
#include <spool/message.hpp>
#include <spool/transmission.hpp>

#include <algorithm>
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

/// A preprocessor registered for `types` applies while a recipient of one of
/// those types still waits for a transport (at submit, and again in the spooler).
template <class Message>
bool preprocessor_applies(const spool::address_types& types, const Message& m) {
    return std::any_of(m.recipients.begin(), m.recipients.end(),
                       [&](const recipient& r) { return awaiting_transport(r) && types.matches(r.address_type); });
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

/// MAPI FinishedMsg's flag changes: no longer submitted or unsent, read.
/// A message that reached nobody is never deleted after submit: it is the only
/// copy of what failed, so it stays where it is for the user to see or resend.
template <class Message>
void mark_finished(Message& m) {
    m.flags = (m.flags & ~(message_flags::submitted | message_flags::unsent)) | message_flags::read;
    m.submission = submit_flags::none;
    const bool reached_anyone = std::any_of(m.recipients.begin(), m.recipients.end(), [](const recipient& r) {
        return std::holds_alternative<status::sent>(r.status);
    });
    if (!reached_anyone && std::holds_alternative<disposition::delete_after_submit>(m.sent_mail))
        m.sent_mail = disposition::leave_in_place{};
}

template <class Message>
bool all_settled(const Message& m) {
    return std::all_of(m.recipients.begin(), m.recipients.end(), [](const recipient& r) { return !awaiting_transport(r); });
}

/// The buffers a dispatch round works in. The spooler keeps one and reuses it
/// for every message, so a round allocates nothing once they have grown.
struct dispatch_scratch {
    std::vector<std::uint8_t> marks; // per recipient: in_play, held
    std::vector<std::size_t> assigned;
    std::vector<transmit_outcome> outcomes;
};

template <class Message>
class dispatch_round {
public:
    dispatch_round(Message& m, time_point now, time_point deadline, dispatch_scratch& scratch)
        : message_(m), now_(now), deadline_(deadline), scratch_(scratch) {
        // Every buffer gets room for every recipient, once per round. Outcome
        // slots only grow, so their strings keep their memory between rounds.
        auto& marks = scratch_.marks;
        marks.resize(m.recipients.size());
        scratch_.assigned.resize(m.recipients.size());
        if (scratch_.outcomes.size() < m.recipients.size()) scratch_.outcomes.resize(m.recipients.size());
        for (std::size_t i = 0; i < marks.size(); ++i) {
            const recipient& r = m.recipients[i];
            const auto* d = std::get_if<status::deferred>(&r.status);
            marks[i] = awaiting_transport(r) && (!d || d->next_attempt <= now) ? in_play : 0;
        }
    }

    /// Offers the recipients in play that `transport` handles to it, once.
    /// `exact` selects the pass: exact address types first, catch-alls after.
    template <class Transport, class Backoff>
    void offer(Transport& transport, const spool::address_types& types, transport_state& state, bool exact,
               Backoff&& backoff) {
        if (types.catch_all() == exact) return;

        std::size_t count = 0;
        for (std::size_t i = 0; i < scratch_.marks.size(); ++i)
            if (open(i) && types.matches(message_.recipients[i].address_type)) scratch_.assigned[count++] = i;
        if (count == 0) return;
        // (pointer, size) spans: the range constructors' constraints are costly to compile.
        const std::span<const std::size_t> assigned(scratch_.assigned.data(), count);

        if (state.unavailable_until > now_) { // still away: do not call it again before it said
            for (std::size_t i : assigned) defer(i, state.unavailable_until, state.reason);
            return;
        }

        const std::span<transmit_outcome> outcomes(scratch_.outcomes.data(), count);
        for (auto& o : outcomes) o.what = transmit_outcome::kind::none;
        transmission<Message> tx(message_, assigned, outcomes, now_);
        transmit_result result = call(transport, tx);

        if (result.what() != transmit_result::kind::not_me)
            for (std::size_t k = 0; k < assigned.size(); ++k) apply(outcomes[k], message_.recipients[assigned[k]]);

        switch (result.what()) {
        case transmit_result::kind::done:
        case transmit_result::kind::not_me:
            break; // unreported recipients were declined; later transports may take them
        case transmit_result::kind::retry_after: {
            const auto until = now_ + std::max(result.delay(), std::chrono::seconds{1});
            state = {until, result.reason()};
            for (std::size_t i : assigned)
                if (!message_.recipients[i].responsibility) defer(i, until, result.reason());
            break;
        }
        case transmit_result::kind::busy:
            for (std::size_t i : assigned)
                if (!message_.recipients[i].responsibility)
                    defer(i, now_ + backoff(attempts(message_.recipients[i]) + 1), result.reason());
            break;
        }
    }

    /// Ends the round: recipients in play that no transport took get
    /// non-delivery status. Returns how many recipients the round deferred.
    std::size_t finish() {
        std::size_t deferred = 0;
        for (std::size_t i = 0; i < scratch_.marks.size(); ++i) {
            recipient& r = message_.recipients[i];
            if (open(i)) fail(r, "no transport accepted address type '" + r.address_type + "'", no_route_diagnostic);
            deferred += scratch_.marks[i] == held ? 1 : 0;
        }
        return deferred;
    }

private:
    static constexpr std::uint8_t in_play = 1; // due now, waiting for a transport
    static constexpr std::uint8_t held = 2;    // deferred in this round: later transports leave it

    // In play, not deferred in this round, and no transport has taken it yet.
    bool open(std::size_t i) const { return scratch_.marks[i] == in_play && !message_.recipients[i].responsibility; }

    // A transport that throws is treated as busy: the message is kept and tried again.
    template <class Transport>
    static transmit_result call(Transport& transport, transmission<Message>& tx) {
        return guarded([&] { return transport.transmit(tx); },
                       [](const std::string& what) { return transmit_result::busy("transport threw: " + what); });
    }

    static void apply(transmit_outcome& o, recipient& r) {
        switch (o.what) {
        case transmit_outcome::kind::none:
            break; // declined
        case transmit_outcome::kind::sent:
            settle(r, status::sent{o.at});
            break;
        case transmit_outcome::kind::failed:
            fail(r, std::move(o.reason), std::move(o.diagnostic));
            break;
        }
    }

    static unsigned attempts(const recipient& r) {
        const auto* d = std::get_if<status::deferred>(&r.status);
        return d ? d->attempts : 0;
    }

    void defer(std::size_t i, time_point at, const std::string& reason) {
        recipient& r = message_.recipients[i];
        r.status = status::deferred{std::min(at, deadline_), reason, attempts(r) + 1};
        scratch_.marks[i] = held;
    }

    Message& message_;
    time_point now_;
    time_point deadline_;
    dispatch_scratch& scratch_;
};

} // namespace spool::detail
