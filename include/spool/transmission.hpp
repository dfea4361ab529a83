#pragma once

#include <spool/detail/assigned_recipients.hpp>
#include <spool/detail/transmit_outcome.hpp>
#include <spool/message.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>

namespace spool {

/// What a transport says about one hand-off (MAPI: the return of IXPLogon::SubmitMessage).
class transmit_result {
public:
    enum class kind {
        /// Processed. Recipients the transport marked are settled; unmarked ones
        /// are declined and go to the next matching transport (MAPI: S_OK).
        done,
        /// Nothing was processed; offer every recipient to the next matching transport (MAPI_E_NOT_ME).
        not_me,
        /// The messaging system is unavailable: keep the message and try again
        /// after the delay (MAPI_E_WAIT, MAPI_E_NETWORK_ERROR).
        retry_after,
        /// The transport cannot take work now; try again after the retry policy's backoff (MAPI_E_BUSY).
        busy,
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

    kind what() const noexcept { return kind_; }
    /// The delay the transport asked for; meaningful for `retry_after` only.
    std::chrono::seconds delay() const noexcept { return delay_; }
    const std::string& reason() const noexcept { return reason_; }

private:
    explicit transmit_result(kind k) : kind_(k) {}
    transmit_result(kind k, std::string reason) : kind_(k), reason_(std::move(reason)) {}

    kind kind_;
    std::chrono::seconds delay_{0};
    std::string reason_;
};


/// One hand-off of a message to a transport: the message, read-only, and the
/// recipients assigned to this transport (MAPI: those whose PR_RESPONSIBILITY
/// is false for this call). The transport reports each recipient it settles.
template <class Message>
class transmission {
public:
    /// For the spooler: `outcomes` has a slot per assigned recipient, each of
    /// kind none, and outlives this.
    transmission(const Message& message, std::span<const std::size_t> assigned,
                 std::span<detail::transmit_outcome> outcomes, time_point now)
        : message_(&message), assigned_(assigned), outcomes_(outcomes), now_(now) {}

    const Message& message() const noexcept { return *message_; }

    /// The recipients this transport is asked to handle, in recipient-table
    /// order: a sized random-access range (std and range-v3) of const recipient&.
    detail::assigned_recipients recipients() const noexcept { return {message_->recipients.data(), assigned_}; }

    /// The recipient was handed to the messaging system.
    void sent(const recipient& r) { sent(r, now_); }
    void sent(const recipient& r, time_point at) {
        auto& o = outcomes_[slot(r)];
        o.what = detail::transmit_outcome::kind::sent;
        o.at = at;
    }
    /// The recipient conclusively cannot be delivered.
    void failed(const recipient& r, std::string reason, std::string diagnostic = {}) {
        auto& o = outcomes_[slot(r)];
        o.what = detail::transmit_outcome::kind::failed;
        o.reason = std::move(reason);
        o.diagnostic = std::move(diagnostic);
    }

    /// A key that is the same every time this message goes to this recipient,
    /// across retries and restarts, so an idempotent transport can drop duplicates.
    std::string delivery_key(const recipient& r) const {
        return std::to_string(static_cast<std::uint64_t>(message_->id)) + '/' + r.address_type + ':' + r.address;
    }

    /// The spooler's clock at the start of this hand-off.
    time_point now() const noexcept { return now_; }

private:
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
    std::span<detail::transmit_outcome> outcomes_;
    time_point now_;
    std::size_t next_ = 0; // the slot after the last one reported
};

} // namespace spool
