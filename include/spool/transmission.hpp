#pragma once

#include <spool/assigned_recipients.hpp>
#include <spool/recipient_outcome.hpp>
#include <spool/message.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>

namespace spool {

/// What a transport says about one hand-off (MAPI: the return of
/// IXPLogon::SubmitMessage). A failure has a scope: one recipient (reported
/// through the transmission: `failed`, `deferred`), the message
/// (`message_failed`), the transport (`retry_after`, `busy`) or the
/// destination (`site_failure`); only the last counts against a destination's health.
class transmit_result {
public:
    enum class kind {
        /// Processed. Recipients the transport marked are settled; unmarked ones
        /// are declined and go to the next matching transport (MAPI: S_OK).
        done,
        /// Nothing was processed; offer every recipient to the next matching transport (MAPI_E_NOT_ME).
        not_me,
        /// The messaging system is unavailable: keep the message and try again
        /// after the delay (MAPI_E_WAIT, MAPI_E_NETWORK_ERROR). The whole transport waits.
        retry_after,
        /// The transport cannot take work now; try again after the retry policy's backoff (MAPI_E_BUSY).
        busy,
        /// The destination is at fault (connection refused, TLS failed, a
        /// timeout): the recipients not reported are deferred, and the failure
        /// counts toward marking the destination down.
        site_failure,
        /// The message cannot go by this transport at all (too large, say):
        /// every recipient not reported fails with this reason and diagnostic.
        message_failed,
    };

    static transmit_result done() { return transmit_result{kind::done}; }
    static transmit_result not_me() { return transmit_result{kind::not_me}; }
    static transmit_result retry_after(std::chrono::seconds delay, std::string reason = "messaging system unavailable") {
        transmit_result r{kind::retry_after, std::move(reason)};
        r.delay_ = delay;
        return r;
    }
    static transmit_result busy(std::string reason = "transport busy") {
        return transmit_result{kind::busy, std::move(reason)};
    }
    static transmit_result site_failure(std::string reason, std::string diagnostic = {}) {
        transmit_result r{kind::site_failure, std::move(reason)};
        r.diagnostic_ = std::move(diagnostic);
        return r;
    }
    static transmit_result message_failed(std::string reason, std::string diagnostic = {}) {
        transmit_result r{kind::message_failed, std::move(reason)};
        r.diagnostic_ = std::move(diagnostic);
        return r;
    }

    kind what() const noexcept { return kind_; }
    /// The delay the transport asked for; meaningful for `retry_after` only.
    std::chrono::seconds delay() const noexcept { return delay_; }
    const std::string& reason() const noexcept { return reason_; }
    /// For `site_failure` and `message_failed`: machine-readable detail, e.g. an RFC 3463 code.
    const std::string& diagnostic() const noexcept { return diagnostic_; }

    /// busy with no reason, made without allocating: what a hand-off whose
    /// completion handler was dropped completes with.
    static transmit_result abandoned() noexcept { return transmit_result{kind::busy}; }

private:
    explicit transmit_result(kind k) noexcept : kind_(k) {}
    transmit_result(kind k, std::string reason) : kind_(k), reason_(std::move(reason)) {}

    kind kind_;
    std::chrono::seconds delay_{0};
    std::string reason_;
    std::string diagnostic_;
};

/// One hand-off of a message to a transport: the message, read-only, and the
/// recipients assigned to this transport (MAPI: those whose PR_RESPONSIBILITY
/// is false for this call). The transport reports each recipient it settles.
template <class Message>
class transmission {
public:
    /// For the spooler and spool::testing (the key says so): `outcomes` has a
    /// slot per assigned recipient, each of kind none, and outlives this.
    transmission(handoff_key, const Message& message, std::span<const std::size_t> assigned,
                 std::span<recipient_outcome> outcomes, time_point now)
        : message_(&message), assigned_(assigned), outcomes_(outcomes), now_(now) {}

    const Message& message() const noexcept { return *message_; }

    /// The recipients this transport is asked to handle, in recipient-table
    /// order: a sized random-access range (std and range-v3) of const recipient&.
    assigned_recipients recipients() const noexcept { return {message_->recipients.data(), assigned_}; }

    /// The recipient was handed to the messaging system.
    void sent(const recipient& r) { sent(r, now_); }
    void sent(const recipient& r, time_point at) { settle_sent(r, at, delivery_action::delivered); }
    /// The recipient was handed to a next hop that delivers on (an SMTP relay):
    /// a delivery report says "relayed", or, when the next hop took over the
    /// report request (`next_hop_reports`: it accepted DSN NOTIFY), spool makes none.
    void relayed(const recipient& r, bool next_hop_reports) {
        settle_sent(r, now_, next_hop_reports ? delivery_action::relayed_with_reports : delivery_action::relayed);
    }
    /// The recipient conclusively cannot be delivered.
    void failed(const recipient& r, std::string reason, std::string diagnostic = {}) {
        auto& o = outcomes_[slot(r)];
        o.what = recipient_outcome::kind::failed;
        o.reason = std::move(reason);
        o.diagnostic = std::move(diagnostic);
    }

    /// The recipient is temporarily refused (an SMTP 4xx to its RCPT, say)
    /// while others may be settled: it is tried again after `delay`, or after
    /// the retry policy's backoff when none is given. The reason and
    /// diagnostic are stored with its status. Neither the transport nor the
    /// destination is marked down.
    void deferred(const recipient& r, std::string reason, std::string diagnostic = {},
                  std::optional<std::chrono::seconds> delay = std::nullopt) {
        auto& o = outcomes_[slot(r)];
        o.what = recipient_outcome::kind::deferred;
        o.reason = std::move(reason);
        o.diagnostic = std::move(diagnostic);
        o.at = delay ? now_ + std::max(*delay, std::chrono::seconds{1}) : time_point{};
    }

    /// A key that is the same every time this message goes to this recipient,
    /// across retries and restarts, so an idempotent transport can drop duplicates.
    std::string delivery_key(const recipient& r) const {
        return std::to_string(static_cast<std::uint64_t>(message_->id)) + '/' + r.address_type + ':' + r.address;
    }

    /// The spooler's clock at the start of this hand-off.
    time_point now() const noexcept { return now_; }

private:
    void settle_sent(const recipient& r, time_point at, delivery_action action) {
        auto& o = outcomes_[slot(r)];
        o.what = recipient_outcome::kind::sent;
        o.at = at;
        o.action = action;
    }
    // Transports usually report recipients in the order recipients() gives
    // them, so the slot after the last one is tried first; else, as assigned_
    // is in recipient-table order, the slot is found by bisection.
    std::size_t slot(const recipient& r) {
        const auto index = static_cast<std::size_t>(&r - message_->recipients.data());
        if (next_ < assigned_.size() && assigned_[next_] == index) return next_++;
        const auto it = std::lower_bound(assigned_.begin(), assigned_.end(), index);
        if (it == assigned_.end() || *it != index) not_assigned(r);
        next_ = static_cast<std::size_t>(it - assigned_.begin()) + 1;
        return next_ - 1;
    }
    [[noreturn, gnu::cold, gnu::noinline]] static void not_assigned(const recipient& r) {
        throw std::invalid_argument("spool::transmission: the recipient '" + r.address +
                                    "' was not assigned to this transport; report only recipients from recipients()");
    }

    // Views of the spooler's buffers, reused from one hand-off to the next.
    const Message* message_;
    std::span<const std::size_t> assigned_;
    std::span<recipient_outcome> outcomes_;
    time_point now_;
    std::size_t next_ = 0; // the slot after the last one reported
};

} // namespace spool
