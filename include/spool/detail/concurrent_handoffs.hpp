#pragma once

// The hand-off stage of a spooler with asynchronous transports, worker
// threads or several hand-offs at once: a taken message's recipients are
// routed (routing.hpp), grouped into one hand-off per transport and
// destination, and scheduled within each transport's and destination's
// limits, rate limits and health (destinations.hpp); what each hand-off
// reports is applied (handoff_result.hpp) on the spooler's thread, whatever
// thread completed it (handoff_inbox.hpp). A job's round is over when none
// of its hand-offs is open and nothing it declined waits to be offered: the
// stage then lists it in ended(), and the orchestrator ends the round.
// Transports are called through the transport table, so this stage is
// instantiated once per spooler, not once per transport type.

#include <spool/delivery.hpp>
#include <spool/detail/destinations.hpp>
#include <spool/detail/handoff_inbox.hpp>
#include <spool/detail/handoff_result.hpp>
#include <spool/detail/message_job.hpp>
#include <spool/detail/routing.hpp>
#include <spool/detail/transport_table.hpp>
#include <spool/detail/wakeup.hpp>
#include <spool/events.hpp>
#include <spool/run_report.hpp>
#include <spool/transmission.hpp>
#include <spool/transmit_handler.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace spool::detail {

/// One hand-off of the concurrent stage: a message's recipients for one
/// transport and destination, from grouping to completion. Typed on the
/// message alone, so that every spooler of a program shares what is built
/// on it (the lanes, the inbox, the workers) rather than instantiating its own.
template <class Message>
struct handoff_record {
    message_job<Message>* owner = nullptr;
    std::size_t slot = 0;
    std::size_t step = 0;
    destination<handoff_record>* dest = nullptr;
    std::vector<std::size_t> assigned;
    std::vector<recipient_outcome> outcomes;
    std::optional<transmission<Message>> tx;
    handoff_sink* sink = nullptr;
    const transport_row<Message>* transport = nullptr;
    std::chrono::steady_clock::time_point started{}; // kept only for an observer of hand-offs
    typename std::list<handoff_record>::iterator self;
};

/// A synchronous hand-off run on a worker thread; it completes into the inbox.
template <class Message>
struct transmit_on_worker {
    handoff_record<Message>* h;
    void operator()() const { h->sink->complete(h, h->transport->transmit(h->transport->self, *h->tx)); }
};

template <class Core>
class concurrent_handoffs {
public:
    using message_type = typename Core::message_type;
    using job = message_job<message_type>;
    static constexpr std::size_t transport_count = Core::policies::transport_count;

    explicit concurrent_handoffs(Core& core)
        : core_(core), order_(composed_offer_order(core)),
          inbox_(std::make_shared<handoff_inbox<handoff>>(&core.wakeup())) {
        for (std::size_t slot = 0; slot < transport_count; ++slot) configure(slot, delivery_limits{});
    }
    concurrent_handoffs(const concurrent_handoffs&) = delete;
    concurrent_handoffs& operator=(const concurrent_handoffs&) = delete;
    ~concurrent_handoffs() { inbox_->detach(); }

    /// The spooler's clock for the step that follows: one reading per message or batch of completions.
    void set_now(time_point t) noexcept { now_ = t; }

    /// Routes `j`'s recipients due now and offers them, in offer order
    /// (exact address types first, then catch-alls, MAPI's order).
    void offer(job& j, run_report& report) {
        j.unrouted = route_due(j.route, j.done.message(), now_, order_.steps());
        offer_round(j, report);
        offer_declined(report);
    }

    /// The jobs whose round is over since the last call: the orchestrator ends each.
    std::vector<job*>& ended() noexcept { return ended_; }

    /// Starts what a limit held back, wherever there is room now.
    void start_all_waiting(run_report& report) {
        for (std::size_t slot = 0; slot < lanes_.size(); ++slot) start_waiting(slot, report);
        offer_declined(report);
    }

    /// Applies every completed hand-off: those made inline, and those that
    /// landed in the inbox from other threads. Applying one may start others.
    void apply_completed(run_report& report) {
        for (;;) {
            applying_.clear();
            applying_.swap(inline_done_);
            inbox_->take(arrived_);
            if (applying_.empty() && arrived_.empty()) break;
            if (!arrived_.empty()) now_ = core_.now(); // they completed since the step that started them
            for (auto& [h, result] : applying_) complete(*h, std::move(result), report);
            for (auto& [h, result] : arrived_) complete(*h, std::move(result), report);
            offer_declined(report);
        }
    }

    /// Hand-offs in flight or held back by a limit.
    std::size_t open() const noexcept { return handoffs_.size(); }

    /// How many more messages the transports could use (0: none now). A
    /// transport wants more while its hand-offs in flight, and those that
    /// would start as soon as it had room, are fewer than twice what it takes
    /// at once: then a completion finds the next hand-off ready without a
    /// claim, and a queue of many thousands is not loaded, locked and
    /// accounted for on every pass while a few dozen can be in flight (that
    /// cost halved a 64-in-flight transport's rate on SQLite). Hand-offs held
    /// back by their destination's own limit, rate or health do not count, and
    /// each transport wants for itself: one saturated destination or transport
    /// must not keep the messages for the others from being taken.
    std::size_t wanted() const {
        std::size_t want = 0;
        for (const lane& l : lanes_) {
            const std::size_t busy = l.in_flight + l.held_by_transport(now_);
            if (busy < 2 * l.max_in_flight) want += 2 * l.max_in_flight - busy;
        }
        return want;
    }

    /// Hand-offs started and not yet applied (not those a limit holds back).
    std::size_t in_flight() const noexcept {
        std::size_t n = 0;
        for (const lane& l : lanes_) n += l.in_flight;
        return n;
    }

    /// Waits until a hand-off completes, or `until` passes. True when one has.
    bool wait_until(std::chrono::steady_clock::time_point until) { return inbox_->wait_until(until); }

    /// While draining, nothing new starts: hand-offs held back, and recipients
    /// offered anew, are left as they were.
    void draining(bool on) noexcept { draining_ = on; }

    /// Asks asynchronous transports that can to cut their hand-offs short.
    void cancel() {
        for (std::size_t slot = 0; slot < transport_count; ++slot)
            if (const auto& t = core_.transport(slot); t.cancel) t.cancel(t.self);
    }

    /// Sets the limits of the transport at `slot` (its position among the transports).
    void set_limits(std::size_t slot, delivery_limits limits) { configure(slot, limits); }
    delivery_limits limits(std::size_t slot) const {
        delivery_limits l = lanes_[slot].limits;
        l.max_in_flight = lanes_[slot].max_in_flight;
        return l;
    }

    /// An administrator's flush: destinations marked down are probed now, and
    /// the messages waiting for them are due again (take_back()).
    void probe_now(time_point now) {
        for (lane& l : lanes_) l.probe_now(now, back_);
    }

    /// The destinations that came back (a probe was answered) or are probed
    /// now since the last call: their messages need not wait any longer.
    std::vector<std::string> take_back() { return std::exchange(back_, {}); }

    std::vector<destination_health> destinations() const {
        std::vector<destination_health> out;
        for (std::size_t slot = 0; slot < lanes_.size(); ++slot)
            lanes_[slot].for_each([&](const std::string& key, const destination& d) {
                out.push_back({slot, key, d.health, d.in_flight, d.waiting.size(), d.failures, d.next_probe, d.last_error,
                               lanes_[slot].concurrency_of(d)});
            });
        return out;
    }

    /// Forgets destinations with nothing to remember.
    void forget_idle() {
        for (lane& l : lanes_) l.forget_idle();
    }

private:
    using handoff = handoff_record<message_type>;
    using lane = detail::lane<handoff>;
    using destination = detail::destination<handoff>;
    using on_worker = transmit_on_worker<message_type>;

    // --- Routing: each transport, in offer order, gets what waits for its step.

    void offer_round(job& j, run_report& report) {
        j.offering = true;
        // Offer order is step order: what one step declines inline is routed
        // to a later step, which this loop reaches after.
        for (std::size_t step = 0; step < order_.steps().size(); ++step) offer_to(order_.transport_at(step), step, j, report);
        j.offering = false;
        handoff_over(j, false);
    }

    // Jobs some of whose recipients were declined by a hand-off that
    // completed after their offer: offered again, to the later steps.
    void offer_declined(run_report& report) {
        while (!declined_.empty()) {
            job& j = *declined_.back();
            declined_.pop_back();
            j.offer_again = false;
            offer_round(j, report);
        }
    }

    // A hand-off of the job is over (or, with open false, its offer): the one
    // place that decides whether the job's round is.
    void handoff_over(job& j, bool passed_on) {
        if (j.offering) return; // the offer in progress reaches the later steps, and decides after
        if (passed_on) {
            if (!std::exchange(j.offer_again, true)) declined_.push_back(&j);
        } else if (j.open == 0 && !j.offer_again) {
            ended_.push_back(&j); // once: no hand-off is open, and no offer is due to decide again
        }
    }

    void offer_to(std::size_t slot, std::size_t step, job& j, run_report& report) {
        const route_mark here = route_step(step);
        const auto& recipients = j.done.message().recipients;
        lane& l = lanes_[slot];
        const transport_row<message_type>& t = core_.transport(slot);
        if (!t.later && !t.names_destinations && !l.on_workers && may_start_inline(l, l.unnamed()))
            return offer_inline(slot, step, j, report);
        // Recipients bound for one destination share a hand-off; a transport
        // that does not name destinations has one.
        handoff* single = nullptr;
        for (std::size_t i = 0; i < recipients.size(); ++i) {
            if (j.route[i] != here) continue;
            if (l.unavailable.away_at(now_)) { // still away: do not call it again before it said
                defer(j, i, l.unavailable.unavailable_until, l.unavailable.reason);
                continue;
            }
            j.route[i] = in_hand;
            handoff* h = single;
            if (t.names_destinations) {
                // A transport that cannot name one sends the recipient to its unnamed destination.
                destination& d = l.at(t.destination(t.self, recipients[i]));
                h = nullptr;
                for (handoff& open : grouping_)
                    if (open.dest == &d) h = &open;
                if (!h) h = &new_handoff(grouping_, j, slot, step, d);
            } else if (!h) {
                h = single = &new_handoff(grouping_, j, slot, step, l.unnamed());
            }
            h->assigned.push_back(i);
        }
        while (!grouping_.empty()) {
            handoffs_.splice(handoffs_.end(), grouping_, grouping_.begin());
            handoff& h = handoffs_.back();
            h.self = std::prev(handoffs_.end());
            h.outcomes.resize(h.assigned.size());
            ++j.open;
            schedule(h, report);
        }
    }

    // A synchronous transport called on this thread, one hand-off at a time,
    // whose only destination takes it now: the hand-off needs no record, as
    // it completes before this returns.
    bool may_start_inline(const lane& l, const destination& d) const {
        return !draining_ && d.health == destination::state::up && d.waiting.empty() && l.has_room(d, now_);
    }

    void offer_inline(std::size_t slot, std::size_t step, job& j, run_report& report) {
        lane& l = lanes_[slot];
        const route_mark here = route_step(step);
        auto& assigned = inline_assigned_;
        assigned.clear();
        for (std::size_t i = 0; i < j.route.size(); ++i)
            if (j.route[i] == here) {
                if (l.unavailable.away_at(now_)) defer(j, i, l.unavailable.unavailable_until, l.unavailable.reason);
                else assigned.push_back(i);
            }
        if (assigned.empty()) return;
        if (inline_outcomes_.size() < assigned.size()) inline_outcomes_.resize(assigned.size());
        const std::span<recipient_outcome> outcomes(inline_outcomes_.data(), assigned.size());
        destination& d = l.unnamed();
        l.started(d, now_);
        const transport_row<message_type>& t = core_.transport(slot);
        transmission<message_type> tx(handoff_key_maker::make(), j.done.message(), {assigned.data(), assigned.size()}, outcomes, now_);
        std::chrono::steady_clock::time_point started{};
        if constexpr (Core::template observed<handoff_event>) started = std::chrono::steady_clock::now();
        const transmit_result result = t.transmit(t.self, tx);
        ++j.open;
        apply(j, slot, step, d, {assigned.data(), assigned.size()}, outcomes, result, started, report);
    }

    handoff& new_handoff(std::list<handoff>& into, job& j, std::size_t slot, std::size_t step, destination& d) {
        // Records are reused, so their vectors keep their memory from one hand-off to the next.
        if (spare_.empty()) into.emplace_back();
        else into.splice(into.end(), spare_, spare_.begin());
        handoff& h = into.back();
        h.owner = &j;
        h.slot = slot;
        h.step = step;
        h.dest = &d;
        h.assigned.clear();
        h.transport = &core_.transport(slot);
        h.sink = inbox_.get();
        return h;
    }

    void recycle(handoff& h) {
        h.tx.reset();
        h.owner = nullptr;
        spare_.splice(spare_.end(), handoffs_, h.self);
    }

    // --- Scheduling: limits, rate limits and destination health -------------

    void schedule(handoff& h, run_report& report) {
        destination& d = *h.dest;
        lane& l = lanes_[h.slot];
        if (draining_) return hold(h, std::nullopt);
        if (d.health == destination::state::down && now_ < d.next_probe) return hold(h, d.next_probe);
        if (d.health == destination::state::probing || !d.waiting.empty() || !l.has_room(d, now_)) {
            d.waiting.push_back(&h);
            ++l.waiting;
            if (d.next_start > now_) note_due(report, d.next_start);
            return;
        }
        if (d.health == destination::state::down) d.health = destination::state::probing; // this one is the probe
        start(h);
    }

    // The hand-off's recipients are left as they were: a destination that is
    // down is not called, and its messages are not rewritten for it.
    void hold(handoff& h, std::optional<time_point> until) {
        job& j = *h.owner;
        for (std::size_t i : h.assigned) j.route[i] = done_here;
        j.held = true;
        if (until && (!j.held_until || *until < *j.held_until)) {
            j.held_until = *until;
            j.held_for = h.dest->key;
        }
        recycle(h);
        --j.open;
        handoff_over(j, false);
    }

    void start(handoff& h) {
        lane& l = lanes_[h.slot];
        l.started(*h.dest, now_);
        if constexpr (Core::template observed<handoff_event>) h.started = std::chrono::steady_clock::now();
        h.tx.emplace(handoff_key_maker::make(), h.owner->done.message(), std::span<const std::size_t>(h.assigned.data(), h.assigned.size()),
                     std::span<recipient_outcome>(h.outcomes.data(), h.outcomes.size()), now_);
        const transport_row<message_type>& t = *h.transport;
        if (t.later) t.async_transmit(t.self, *h.tx, transmit_handler{inbox_, &h});
        else if (l.on_workers) pool().post(on_worker{&h});
        else inline_done_.emplace_back(&h, t.transmit(t.self, *h.tx));
    }


    // Starts what a limit held back, oldest first, as far as the limits allow.
    void start_waiting(std::size_t slot, run_report& report) {
        lane& l = lanes_[slot];
        if (l.waiting == 0) return;
        const time_point now = now_;
        l.for_each_waiting([&](destination& d) {
            while (!d.waiting.empty()) {
                handoff& h = *d.waiting.front();
                const bool away = !draining_ && l.unavailable.away_at(now);
                const bool cooling = d.health == destination::state::down && now < d.next_probe;
                if (!draining_ && !cooling && !away) {
                    if (d.health == destination::state::probing) break;
                    if (!l.has_room(d, now)) {
                        if (d.next_start > now) note_due(report, d.next_start);
                        break;
                    }
                }
                d.waiting.pop_front();
                --l.waiting;
                job& j = *h.owner;
                if (away) {
                    // The transport said retry_after while this waited: it is
                    // not called again before its time, as at an offer.
                    for (std::size_t i : h.assigned) defer(j, i, l.unavailable.unavailable_until, l.unavailable.reason);
                    recycle(h);
                    --j.open;
                    handoff_over(j, false);
                } else if (draining_ || cooling) {
                    hold(h, draining_ ? std::nullopt : std::optional{d.next_probe});
                } else {
                    if (d.health == destination::state::down) d.health = destination::state::probing;
                    start(h);
                }
            }
            return draining_ || l.in_flight < l.max_in_flight;
        });
    }

    // --- Applying: what a completed hand-off means ---------------------------

    void complete(handoff& h, transmit_result&& result, run_report& report) {
        const std::size_t slot = h.slot;
        apply(*h.owner, slot, h.step, *h.dest, h.assigned, h.outcomes, std::move(result), h.started, report);
        recycle(h);
        start_waiting(slot, report);
    }

    // What a completed hand-off means for its transport and destination
    // (here), and for its recipients (apply_handoff_result).
    void apply(job& j, std::size_t slot, std::size_t step, destination& d, std::span<const std::size_t> assigned,
               std::span<recipient_outcome> outcomes, transmit_result result, std::chrono::steady_clock::time_point started,
               run_report& report) {
        lane& l = lanes_[slot];
        l.ended(d);
        if (result.what() == transmit_result::kind::busy && result.reason().empty())
            result = transmit_result::busy("hand-off abandoned: its completion handler was destroyed without being called");
        switch (result.what()) {
        case transmit_result::kind::site_failure:
            if (l.site_failed(d, now_, result.reason())) {
                core_.notify(destination_event{slot, d.key, destination_event::change::down, result.reason(), d.next_probe});
                start_waiting(slot, report); // what waited for it now waits for the probe, unchanged
            }
            break;
        case transmit_result::kind::retry_after:
            l.unavailable.away(now_, result);
            [[fallthrough]];
        case transmit_result::kind::busy:
            // Says nothing of the destination; a probe that got this probes again next time.
            if (d.health == destination::state::probing) {
                d.health = destination::state::down;
                d.next_probe = now_;
            }
            break;
        default:
            if (d.health != destination::state::up || d.failures > 0)
                if (l.answered(d)) {
                    back_.push_back(d.key);
                    core_.notify(destination_event{slot, d.key, destination_event::change::up, {}, {}});
                }
        }
        const std::optional<time_point> site_retry =
            d.health == destination::state::down ? std::optional{d.next_probe} : std::nullopt;
        const handoff_effect e =
            apply_handoff_result(j.done.message(), assigned, outcomes, result, {j.route, order_.steps(), step},
                                 {now_, j.done.deadline, l.unavailable.unavailable_until, site_retry},
                                 [&](unsigned n) { return now_ + core_.backoff(n); });
        j.deferred += e.deferred;
        j.unrouted += e.unrouted;
        j.changed = j.changed || e.changed;
        if constexpr (Core::template observed<handoff_event>) {
            handoff_event ev{slot, d.key, std::chrono::steady_clock::now() - started, 0, 0, 0};
            for (std::size_t i : assigned) count_status(ev, j.done.message().recipients[i]);
            core_.notify(ev);
        }
        --j.open;
        handoff_over(j, e.passed_on);
    }

    void defer(job& j, std::size_t i, time_point at, const std::string& reason) {
        handoff_effect e;
        defer_in_round(j.done.message().recipients[i], j.route[i], at, j.done.deadline, reason, {}, e);
        j.deferred += e.deferred;
        j.changed = true;
    }

    void configure(std::size_t slot, delivery_limits limits) {
        lane& l = lanes_[slot];
        const transport_row<message_type>& t = core_.transport(slot);
        l.limits = limits;
        std::size_t n = limits.max_in_flight;
        if (n == 0) n = t.declared_limit > 0 ? t.declared_limit : t.later ? 100 : 1;
        l.max_in_flight = std::max<std::size_t>(n, 1);
        // Beside other transports a synchronous one runs on a worker of its
        // own, even with a limit of one: a transmit() that hangs must not stop
        // the others (MAPI's point). Alone, or with inline_transports, a
        // limit of one is called inline, on the spooler's thread.
        constexpr bool beside_others = transport_count > 1 && !Core::policies::inline_transports;
        l.on_workers = !t.later && (l.max_in_flight > 1 || beside_others);
        std::size_t threads = 0;
        for (const lane& each : lanes_)
            if (each.on_workers) threads += each.max_in_flight;
        if (threads > 0) pool().grow_to(threads);
    }

    worker_pool<on_worker>& pool() {
        if (!pool_) pool_ = std::make_unique<worker_pool<on_worker>>();
        return *pool_;
    }

    Core& core_;
    offer_order<transport_count> order_; // by transport, not by composed position
    std::array<lane, transport_count> lanes_{};
    std::shared_ptr<handoff_inbox<handoff>> inbox_;
    // Hand-offs sit in lists: a transport holds its transmission, and the
    // transmission its message, by reference until the hand-off completes.
    std::list<handoff> handoffs_;  // in flight or waiting for room
    std::list<handoff> spare_;     // done, kept for reuse
    std::list<handoff> grouping_;  // being filled by offer_to
    std::vector<std::size_t> inline_assigned_;        // offer_inline's buffers, reused
    std::vector<recipient_outcome> inline_outcomes_;
    std::vector<typename handoff_inbox<handoff>::completed> inline_done_, applying_, arrived_;
    std::vector<job*> declined_; // to offer again: a hand-off completed later passed some recipients on
    std::vector<job*> ended_;    // their round over, for the orchestrator
    time_point now_{};
    std::vector<std::string> back_; // destinations up again since take_back()
    bool draining_ = false;
    std::unique_ptr<worker_pool<on_worker>> pool_; // last: its threads are joined before anything they might touch goes
};

} // namespace spool::detail
