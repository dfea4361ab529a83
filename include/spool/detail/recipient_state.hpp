#pragma once

// What the spooler does to a recipient's state, whoever decides it: the
// hand-off stage, the coupled store's submit, preprocessing, an
// administrator's request, the lifetime. Pure functions of the vocabulary, so
// the transport test kit applies them as the spooler does.

#include <spool/address_types.hpp>
#include <spool/message.hpp>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace spool::detail {

// RFC 3463 codes for the failures the spooler itself decides.
inline constexpr const char* no_route_diagnostic = "5.4.4";       // unable to route
inline constexpr const char* expired_diagnostic = "5.4.7";        // delivery time expired
inline constexpr const char* administrator_diagnostic = "5.3.0";  // other or undefined mail system status (RFC 3463)
inline constexpr const char* preprocessing_diagnostic = "5.6.0";  // content could not be prepared

/// Gives a recipient a status and the spooler's responsibility for it: the
/// transport (or the spooler) is done with it. Not recipient::settled(),
/// which asks whether a status is final.
template <class Status>
void take_responsibility(recipient& r, Status&& s) {
    r.status = std::forward<Status>(s);
    r.responsibility = true;
}

inline void fail(recipient& r, std::string reason, std::string diagnostic) {
    take_responsibility(r, status::failed{std::move(reason), std::move(diagnostic)});
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

} // namespace spool::detail
