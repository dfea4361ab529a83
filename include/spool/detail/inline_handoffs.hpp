#pragma once

// The hand-off stage of a spooler whose transports are all synchronous and
// called on its own thread, one hand-off at a time (spool::inline_transports,
// spool::single_threaded, or one transport declaring max_in_flight = 1): a
// single round per message. Each transport, in offer order, is called once
// with the recipients routed to it, and what it reports is applied at once;
// the round is over when offer() returns. No hand-off records, no
// destination accounting, no inbox and no worker: none of it is instantiated.

#include <spool/delivery.hpp>
#include <spool/detail/handoff_result.hpp>
#include <spool/detail/message_job.hpp>
#include <spool/detail/routing.hpp>
#include <spool/detail/transport_table.hpp>
#include <spool/events.hpp>
#include <spool/run_report.hpp>
#include <spool/transmission.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <limits>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace spool::detail {

template <class Core>
class inline_handoffs {
public:
    using message_type = typename Core::message_type;
    using job = message_job<message_type>;
    static constexpr std::size_t transport_count = Core::policies::transport_count;

    explicit inline_handoffs(Core& core)
        : core_(core), order_(composed_offer_order(core)) {}
    inline_handoffs(const inline_handoffs&) = delete;
    inline_handoffs& operator=(const inline_handoffs&) = delete;

    void set_now(time_point t) noexcept { now_ = t; }

    /// The whole round of `j`: routed, offered, applied. Recipients no
    /// transport took are left unrouted, for the round's end to fail.
    void offer(job& j, run_report&) {
        message_type& m = j.done.message();
        j.unrouted = route_due(j.route, m, now_, order_.steps());
        // Offer order is step order: a recipient one step declines is routed
        // to a later step, which this loop reaches after.
        for (std::size_t step = 0; step < order_.steps().size(); ++step) offer_step(j, step);
    }

    /// Always 0: nothing stays open after a pass.
    std::size_t open() const noexcept { return 0; }
    std::size_t in_flight() const noexcept { return 0; }
    /// Every due message: each is done before the next is taken.
    std::size_t wanted() const noexcept { return std::numeric_limits<std::size_t>::max(); }

    /// Only retry_after is remembered, per transport; an administrator's flush forgets it.
    void probe_now(time_point now) {
        for (transport_state& s : states_)
            if (s.away_at(now)) s.unavailable_until = now;
    }

    /// Called inline, one at a time, by the types it composes: only those limits are possible.
    void set_limits(std::size_t slot, delivery_limits l) {
        if (l.max_in_flight > 1 || l.destination_rate > 0)
            throw std::invalid_argument(
                "spool::spooler::limits: this spooler calls its transports inline, one hand-off at a time "
                "(spool::inline_transports, spool::single_threaded, or max_in_flight = 1): "
                "max_in_flight above 1 and destination_rate need a spooler without that choice");
        limits_[slot] = l;
    }
    delivery_limits limits(std::size_t slot) const {
        delivery_limits l = limits_[slot];
        l.max_in_flight = 1;
        return l;
    }

private:
    void offer_step(job& j, std::size_t step) {
        message_type& m = j.done.message();
        const route_mark here = route_step(step);
        assigned_.clear();
        for (std::size_t i = 0; i < j.route.size(); ++i)
            if (j.route[i] == here) assigned_.push_back(i);
        if (assigned_.empty()) return;
        const std::size_t slot = order_.transport_at(step);
        transport_state& state = states_[slot];
        handoff_effect e;
        if (state.away_at(now_)) { // still away: not called again before it said
            for (std::size_t i : assigned_)
                defer_in_round(m.recipients[i], j.route[i], state.unavailable_until, j.done.deadline, state.reason, {}, e);
            return add(j, e);
        }
        if (outcomes_.size() < assigned_.size()) outcomes_.resize(assigned_.size());
        const std::span<const std::size_t> assigned(assigned_.data(), assigned_.size());
        const std::span<recipient_outcome> outcomes(outcomes_.data(), assigned_.size());
        std::chrono::steady_clock::time_point started{};
        if constexpr (Core::template observed<handoff_event>) started = std::chrono::steady_clock::now();
        transmission<message_type> tx(handoff_key_maker::make(), m, assigned, outcomes, now_);
        const transmit_result result = core_.transport(slot).transmit(core_.transport(slot).self, tx);
        if (result.what() == transmit_result::kind::retry_after) state.away(now_, result);
        add(j, apply_handoff_result(m, assigned, outcomes, result, {j.route, order_.steps(), step},
                                    {now_, j.done.deadline, state.unavailable_until, std::nullopt},
                                    [&](unsigned n) { return now_ + core_.backoff(n); }));
        if constexpr (Core::template observed<handoff_event>) tell(j, slot, started);
    }

    static void add(job& j, const handoff_effect& e) {
        j.deferred += e.deferred;
        j.unrouted += e.unrouted;
        j.changed = j.changed || e.changed;
    }

    void tell(job& j, std::size_t slot, std::chrono::steady_clock::time_point started) {
        handoff_event e{slot, {}, std::chrono::steady_clock::now() - started, 0, 0, 0};
        for (std::size_t i : assigned_) count_status(e, j.done.message().recipients[i]);
        core_.notify(e);
    }

    Core& core_;
    offer_order<transport_count> order_; // by transport, not by composed position
    std::array<transport_state, transport_count> states_{};
    std::array<delivery_limits, transport_count> limits_{};
    std::vector<std::size_t> assigned_; // reused: a round allocates nothing once warm
    std::vector<recipient_outcome> outcomes_;
    time_point now_{};
};

} // namespace spool::detail
