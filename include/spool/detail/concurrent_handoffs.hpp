#pragma once

// The outgoing side's third stage: offer a taken message's recipients to the
// transports, in MAPI's offer order, and hand them off, one hand-off per
// transport and destination, within each transport's and destination's
// limits, rate limits and health; then apply what each hand-off reports.
// Synchronous transports are called inline or on worker threads;
// asynchronous ones complete through a transmit_handler from any thread, into
// the inbox, and are applied on the spooler's thread. A job's round ends
// (Owner::round_over) when none of its hand-offs is open any more.

#include <spool/delivery.hpp>
#include <spool/detail/destinations.hpp>
#include <spool/detail/dispatch.hpp>
#include <spool/detail/guarded.hpp>
#include <spool/detail/handoff_inbox.hpp>
#include <spool/detail/message_job.hpp>
#include <spool/detail/requirements.hpp>
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
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace spool::detail {

/// Whether a transport's hand-offs complete later, through a transmit_handler.
template <class T, class M>
inline constexpr bool hands_off_later = transport_transmits_later<T, M>;

/// Owner: `round_over(job&, run_report&)`, called when a job has no hand-off open.
template <class Core, class Owner>
class handoffs {
public:
    using message_type = typename Core::message_type;
    using job = message_job<message_type>;
    static_assert(Core::policies::transport_count < 0xFD, "spool: too many composed transports");

    handoffs(Core& core, Owner& owner)
        : core_(core), owner_(owner),
          order_([&](std::size_t slot) { return &core.types_of(Core::policies::transport_position[slot]); }),
          inbox_(std::make_shared<handoff_inbox>(&wake_core, &core)) {
        core_.for_each_transport([&](auto& t, std::size_t i) {
            configure<std::remove_cvref_t<decltype(t)>>(Core::policies::transport_slot[i], delivery_limits{});
        });
    }
    handoffs(const handoffs&) = delete;
    handoffs& operator=(const handoffs&) = delete;
    ~handoffs() { inbox_->detach(); }

    /// The spooler's clock for the step that follows: one reading per message or batch of completions.
    void set_now(time_point t) noexcept { now_ = t; }

    route_mark route_from(job& j, const recipient& r, std::size_t step) {
        const auto steps = order_.steps();
        for (; step < steps.size(); ++step)
            if (steps[step]->matches(r.address_type)) return route_step(step);
        ++j.unrouted;
        return unrouted;
    }

    // Each recipient due now is routed once, to the first step whose address
    // types match it; a transport that declines it passes it to the next.
    void route(job& j, time_point now) {
        const auto& recipients = j.done.message().recipients;
        j.route.resize(recipients.size());
        for (std::size_t i = 0; i < recipients.size(); ++i) {
            const recipient& r = recipients[i];
            const auto* d = std::get_if<status::deferred>(&r.status);
            j.route[i] = awaiting_transport(r) && (!d || d->next_attempt <= now) ? route_from(j, r, 0) : done_here;
        }
    }

    // Offers each transport, in offer order (exact address types first, then
    // catch-alls, MAPI's order), the recipients waiting for its step; ends
    // the job's round when nothing is left open.
    void offer(job& j, run_report& report) {
        ++j.offering;
        for (bool exact : {true, false})
            core_.for_each_transport([&](auto& t, std::size_t i) {
                const std::size_t slot = Core::policies::transport_slot[i];
                if (order_.exact(slot) == exact) offer_to(t, slot, j, report);
            });
        if (--j.offering == 0 && j.open == 0) owner_.round_over(j, report);
    }

    /// Starts what a limit held back, wherever there is room now.
    void start_all_waiting(run_report& report) {
        for (std::size_t slot = 0; slot < lanes_.size(); ++slot) start_waiting(slot, report);
    }

    // Applies every completed hand-off: those made inline, and those that
    // landed in the inbox from other threads. Applying one may start others.
    void settle(run_report& report) {
        for (;;) {
            applying_.clear();
            applying_.swap(inline_done_);
            inbox_->take(arrived_);
            if (applying_.empty() && arrived_.empty()) return;
            if (!arrived_.empty()) now_ = core_.now(); // they completed since the step that started them
            for (auto& [h, result] : applying_) complete(*static_cast<handoff*>(h), std::move(result), report);
            for (auto& [h, result] : arrived_) complete(*static_cast<handoff*>(h), std::move(result), report);
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
        core_.for_each_transport([&](auto& t, std::size_t) {
            if constexpr (transport_cancels<std::remove_cvref_t<decltype(t)>>)
                guarded([&] { t.cancel_transmissions(); }, [](const std::string&) {});
        });
    }

    /// Sets the limits of the transport at `slot` (its position among the transports).
    template <class T>
    void set_limits(std::size_t slot, delivery_limits limits) {
        configure<T>(slot, limits);
    }
    delivery_limits limits(std::size_t slot) const {
        delivery_limits l = lanes_[slot].limits;
        l.max_in_flight = lanes_[slot].max_in_flight;
        return l;
    }

    /// An administrator's flush: destinations marked down are probed now, and
    /// the messages waiting for them are due again (back()).
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
                out.push_back({slot, key, d.health, d.in_flight, d.waiting.size(), d.failures, d.next_probe, d.last_error});
            });
        return out;
    }

    /// Forgets destinations with nothing to remember.
    void forget_idle() {
        for (lane& l : lanes_) l.forget_idle();
    }

private:
    static void wake_core(void* core) { static_cast<Core*>(core)->wake_handoffs(); }

    struct handoff {
        job* owner = nullptr;
        std::size_t slot = 0;
        std::size_t step = 0;
        destination* dest = nullptr;
        std::vector<std::size_t> assigned;
        std::vector<recipient_outcome> outcomes;
        std::optional<transmission<message_type>> tx;
        void* transport = nullptr;
        handoff_sink* sink = nullptr;
        std::chrono::steady_clock::time_point started{}; // kept only for an observer of hand-offs
        typename std::list<handoff>::iterator self;
    };

    template <class T>
    void offer_to(T& t, std::size_t slot, job& j, run_report& report) {
        const std::size_t step = order_.step_of(slot);
        const route_mark here = route_step(step);
        const auto& recipients = j.done.message().recipients;
        lane& l = lanes_[slot];
        const time_point now = now_;
        if constexpr (!transport_names_destinations<T> && !hands_off_later<T, message_type>)
            if (!l.on_workers && may_start_inline(l, l.unnamed())) return offer_inline(t, slot, step, j, report);
        // Recipients bound for one destination share a hand-off; a transport
        // that does not name destinations has one.
        handoff* single = nullptr;
        for (std::size_t i = 0; i < recipients.size(); ++i) {
            if (j.route[i] != here) continue;
            if (l.unavailable.unavailable_until > now) { // still away: do not call it again before it said
                defer(j, i, l.unavailable.unavailable_until, l.unavailable.reason, {});
                continue;
            }
            j.route[i] = in_hand;
            handoff* h = single;
            if constexpr (transport_names_destinations<T>) {
                // A transport that cannot name one sends the recipient to its unnamed destination.
                const std::string key = guarded([&] { return std::string(t.destination(recipients[i])); },
                                                [](const std::string&) { return std::string{}; });
                destination& d = l.at(key);
                h = nullptr;
                for (handoff& open : grouping_)
                    if (open.dest == &d) h = &open;
                if (!h) h = &new_handoff(grouping_, j, slot, step, d, t);
            } else {
                if (!h) h = single = &new_handoff(handoffs_, j, slot, step, l.unnamed(), t);
            }
            h->assigned.push_back(i);
        }
        if constexpr (transport_names_destinations<T>) {
            // Taken out first: a hand-off that completes inline may offer
            // again, and fill grouping_ for a later step, before this loop ends.
            std::list<handoff> batch;
            batch.splice(batch.end(), grouping_);
            while (!batch.empty()) {
                handoffs_.splice(handoffs_.end(), batch, batch.begin());
                launch(t, handoffs_.back(), std::prev(handoffs_.end()), j, report);
            }
        } else if (single) {
            launch(t, *single, std::prev(handoffs_.end()), j, report);
        }
    }

    // A synchronous transport called on this thread, one hand-off at a time,
    // whose only destination takes it now: the hand-off needs no record, as
    // it completes before this returns. The common configuration, and the
    // one the composition benchmark measures, so it is kept this short.
    bool may_start_inline(const lane& l, const destination& d) const {
        return !draining_ && d.health == destination::state::up && d.waiting.empty() && l.has_room(d, now_);
    }

    template <class T>
    void offer_inline(T& t, std::size_t slot, std::size_t step, job& j, run_report& report) {
        lane& l = lanes_[slot];
        const route_mark here = route_step(step);
        const auto& recipients = j.done.message().recipients;
        auto& assigned = inline_assigned_;
        assigned.clear();
        for (std::size_t i = 0; i < recipients.size(); ++i)
            if (j.route[i] == here) {
                if (l.unavailable.unavailable_until > now_) defer(j, i, l.unavailable.unavailable_until, l.unavailable.reason, {});
                else assigned.push_back(i);
            }
        if (assigned.empty()) return;
        if (inline_outcomes_.size() < assigned.size()) inline_outcomes_.resize(assigned.size());
        const std::span<recipient_outcome> outcomes(inline_outcomes_.data(), assigned.size());
        destination& d = l.unnamed();
        l.started(d, now_);
        transmission<message_type> tx(handoff_key_maker::make(), j.done.message(), {assigned.data(), assigned.size()}, outcomes, now_);
        std::chrono::steady_clock::time_point started{};
        if constexpr (Core::template observed<handoff_event>) started = std::chrono::steady_clock::now();
        const transmit_result result = transmit_now(t, tx);
        ++j.open;
        // The buffers are read before anything is offered again, so a nested offer may reuse them.
        const bool passed_on = apply_handoff(j, slot, step, d, {assigned.data(), assigned.size()}, outcomes, result, report);
        if constexpr (Core::template observed<handoff_event>) tell_handoff(j, slot, d, assigned, started);
        after_handoff(j, passed_on, report);
    }

    template <class T>
    void launch(T& t, handoff& h, typename std::list<handoff>::iterator self, job& j, run_report& report) {
        h.self = self;
        h.outcomes.resize(h.assigned.size());
        ++j.open;
        submit(t, h, report);
    }

    template <class T>
    handoff& new_handoff(std::list<handoff>& into, job& j, std::size_t slot, std::size_t step, destination& d, T& t) {
        // Records are reused, so their vectors keep their memory from one hand-off to the next.
        if (spare_.empty()) into.emplace_back();
        else into.splice(into.end(), spare_, spare_.begin());
        handoff& h = into.back();
        h.owner = &j;
        h.slot = slot;
        h.step = step;
        h.dest = &d;
        h.assigned.clear();
        h.transport = &t;
        h.sink = inbox_.get();
        return h;
    }

    void recycle(handoff& h) {
        h.tx.reset();
        h.owner = nullptr;
        spare_.splice(spare_.end(), handoffs_, h.self);
    }

    template <class T>
    void submit(T& t, handoff& h, run_report& report) {
        destination& d = *h.dest;
        lane& l = lanes_[h.slot];
        const time_point now = now_;
        if (draining_) return hold(h, std::nullopt);
        if (d.health == destination::state::down && now < d.next_probe) return hold(h, d.next_probe);
        if (d.health == destination::state::probing || !d.waiting.empty() || !l.has_room(d, now))
            return wait_for_room(l, d, h, report);
        if (d.health == destination::state::down) d.health = destination::state::probing; // this one is the probe
        start(t, h);
    }

    void wait_for_room(lane& l, destination& d, handoff& h, run_report& report) {
        d.waiting.push_back(&h);
        ++l.waiting;
        if (d.next_start > now_) note_due(report, d.next_start);
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
    }

    template <class T>
    void start(T& t, handoff& h) {
        lane& l = lanes_[h.slot];
        const time_point now = now_;
        l.started(*h.dest, now);
        if constexpr (Core::template observed<handoff_event>) h.started = std::chrono::steady_clock::now();
        h.tx.emplace(handoff_key_maker::make(), h.owner->done.message(), std::span<const std::size_t>(h.assigned.data(), h.assigned.size()),
                     std::span<recipient_outcome>(h.outcomes.data(), h.outcomes.size()), now);
        if constexpr (hands_off_later<T, message_type>) {
            try {
                t.async_transmit(*h.tx, transmit_handler{inbox_, &h});
            } catch (...) {
                // The handler, dropped unrun, has completed the hand-off as busy.
            }
        } else if (l.on_workers) {
            pool().post({&transmit_on_worker<T>, &h});
        } else {
            inline_done_.emplace_back(&h, transmit_now(t, *h.tx));
        }
    }

    // A transport that throws is treated as busy: the message is kept and tried again.
    template <class T>
    static transmit_result transmit_now(T& t, transmission<message_type>& tx) {
        return guarded([&] { return t.transmit(tx); },
                       [](const std::string& what) { return transmit_result::busy("transport threw: " + what); });
    }

    template <class T>
    static void transmit_on_worker(void* p) {
        handoff& h = *static_cast<handoff*>(p);
        h.sink->complete(&h, transmit_now(*static_cast<T*>(h.transport), *h.tx));
    }

    template <class F>
    void with_transport(std::size_t slot, F&& f) {
        core_.for_each_transport([&](auto& t, std::size_t i) {
            if (Core::policies::transport_slot[i] == slot) f(t);
        });
    }

    // Starts what a limit held back, oldest first, as far as the limits allow.
    void start_waiting(std::size_t slot, run_report& report) {
        lane& l = lanes_[slot];
        if (l.waiting == 0) return;
        with_transport(slot, [&](auto& t) {
            const time_point now = now_;
            l.for_each_waiting([&](destination& d) {
                while (!d.waiting.empty()) {
                    handoff& h = *static_cast<handoff*>(d.waiting.front());
                    if (!draining_ && l.unavailable.unavailable_until > now) {
                        // The transport said retry_after while this waited: it is
                        // not called again before its time, as at an offer.
                        d.waiting.pop_front();
                        --l.waiting;
                        job& j = *h.owner;
                        for (std::size_t i : h.assigned) defer(j, i, l.unavailable.unavailable_until, l.unavailable.reason, {});
                        recycle(h);
                        --j.open;
                        if (j.open == 0 && j.offering == 0) owner_.round_over(j, report);
                        continue;
                    }
                    const bool cooling = d.health == destination::state::down && now < d.next_probe;
                    if (!draining_ && !cooling) {
                        if (d.health == destination::state::probing) break;
                        if (!l.has_room(d, now)) {
                            if (d.next_start > now) note_due(report, d.next_start);
                            break;
                        }
                    }
                    d.waiting.pop_front();
                    --l.waiting;
                    job& j = *h.owner;
                    if (draining_ || cooling) {
                        hold(h, draining_ ? std::nullopt : std::optional{d.next_probe});
                        if (j.open == 0 && j.offering == 0) owner_.round_over(j, report);
                        continue;
                    }
                    if (d.health == destination::state::down) d.health = destination::state::probing;
                    start(t, h);
                }
                return draining_ || l.in_flight < l.max_in_flight;
            });
        });
    }

    void complete(handoff& h, transmit_result&& result, run_report& report) {
        const std::size_t slot = h.slot;
        job& j = *h.owner;
        const bool passed_on = apply_handoff(j, slot, h.step, *h.dest, h.assigned, h.outcomes, result, report);
        if constexpr (Core::template observed<handoff_event>) tell_handoff(j, slot, *h.dest, h.assigned, h.started);
        recycle(h);
        after_handoff(j, passed_on, report);
        start_waiting(slot, report);
    }

    // What a completed hand-off means for its transport, its destination and
    // its recipients. True when a recipient it declined waits for a later step.
    bool apply_handoff(job& j, std::size_t slot, std::size_t step, destination& d, std::span<const std::size_t> assigned,
                       std::span<recipient_outcome> outcomes, const transmit_result& result, run_report& report) {
        lane& l = lanes_[slot];
        l.ended(d);
        const time_point now = now_;
        const auto what = result.what();
        static const std::string abandoned = "hand-off abandoned: its completion handler was destroyed without being called";
        const std::string& reason =
            result.reason().empty() && what == transmit_result::kind::busy ? abandoned : result.reason();

        switch (what) {
        case transmit_result::kind::site_failure:
            if (l.site_failed(d, now, reason)) {
                core_.notify(destination_event{slot, d.key, destination_event::change::down, reason, d.next_probe});
                start_waiting(slot, report); // what waited for it now waits for the probe, unchanged
            }
            break;
        case transmit_result::kind::retry_after:
            l.unavailable = {now + std::max(result.delay(), std::chrono::seconds{1}), reason};
            [[fallthrough]];
        case transmit_result::kind::busy:
            // Says nothing of the destination; a probe that got this probes again next time.
            if (d.health == destination::state::probing) {
                d.health = destination::state::down;
                d.next_probe = now;
            }
            break;
        default:
            if (d.health != destination::state::up || d.failures > 0)
                if (l.answered(d)) {
                    back_.push_back(d.key);
                    core_.notify(destination_event{slot, d.key, destination_event::change::up, {}, {}});
                }
        }

        message_type& m = j.done.message();
        auto retry_at = [&](unsigned n) { return now + core_.backoff(n); };
        bool passed_on = false;
        for (std::size_t k = 0; k < assigned.size(); ++k) {
            const std::size_t i = assigned[k];
            recipient& r = m.recipients[i];
            j.route[i] = done_here;
            if (what != transmit_result::kind::not_me) {
                if (outcomes[k].what != recipient_outcome::kind::none) j.changed = true;
                if (apply_outcome(outcomes[k], r, now, j.deadline, retry_at)) {
                    ++j.deferred;
                    continue;
                }
            }
            outcomes[k].what = recipient_outcome::kind::none;
            if (r.responsibility) continue;
            switch (what) {
            case transmit_result::kind::done:
            case transmit_result::kind::not_me: // declined: the next matching transport may take it
                j.route[i] = route_from(j, r, step + 1);
                passed_on = passed_on || j.route[i] != unrouted;
                break;
            case transmit_result::kind::retry_after:
                defer(j, i, l.unavailable.unavailable_until, reason, {});
                break;
            case transmit_result::kind::busy:
                defer(j, i, retry_at(attempts(r) + 1), reason, {});
                break;
            case transmit_result::kind::site_failure:
                defer(j, i, d.health == destination::state::down ? d.next_probe : retry_at(attempts(r) + 1), reason,
                      result.diagnostic());
                break;
            case transmit_result::kind::message_failed:
                fail(r, reason, result.diagnostic());
                j.changed = true;
                break;
            }
        }
        return passed_on;
    }

    // An observer of hand-offs is told how one went: what its recipients are now.
    void tell_handoff(job& j, std::size_t slot, const destination& d, std::span<const std::size_t> assigned,
                      std::chrono::steady_clock::time_point started) {
        handoff_event e{slot, d.key, std::chrono::steady_clock::now() - started, 0, 0, 0};
        for (std::size_t i : assigned) {
            const recipient& r = j.done.message().recipients[i];
            if (r.is_sent()) ++e.sent;
            else if (r.is_failed()) ++e.failed;
            else if (r.is_deferred()) ++e.deferred;
        }
        core_.notify(e);
    }

    // A hand-off of the job is over: offer what it declined, and end the
    // round when nothing is left open. A hand-off made inline completes
    // inside offer(); the round then ends when that offer() returns.
    void after_handoff(job& j, bool passed_on, run_report& report) {
        --j.open;
        if (passed_on) offer(j, report);
        else if (j.open == 0 && j.offering == 0) owner_.round_over(j, report);
    }

    void defer(job& j, std::size_t i, time_point at, const std::string& reason, const std::string& diagnostic) {
        defer_recipient(j.done.message().recipients[i], std::min(at, j.deadline), reason, diagnostic);
        j.route[i] = done_here;
        ++j.deferred;
        j.changed = true;
    }

    template <class T>
    void configure(std::size_t slot, delivery_limits limits) {
        lane& l = lanes_[slot];
        l.limits = limits;
        constexpr bool later = hands_off_later<T, message_type>;
        std::size_t n = limits.max_in_flight;
        if (n == 0) {
            if constexpr (transport_declares_limit<T>) n = static_cast<std::size_t>(T::max_in_flight);
            else n = later ? 100 : 1;
        }
        l.max_in_flight = std::max<std::size_t>(n, 1);
        // Beside other transports a synchronous one runs on a worker of its
        // own, even with a limit of one: a transmit() that hangs must not stop
        // the others (MAPI's point). Alone, or with inline_transports, a
        // limit of one is called inline, on the spooler's thread.
        constexpr bool beside_others = Core::policies::transport_count > 1 && !Core::policies::inline_transports;
        l.on_workers = !later && (l.max_in_flight > 1 || beside_others);
        std::size_t threads = 0;
        for (const lane& each : lanes_)
            if (each.on_workers) threads += each.max_in_flight;
        if (threads > 0) pool().grow_to(threads);
    }

    worker_pool& pool() {
        if (!pool_) pool_ = std::make_unique<worker_pool>();
        return *pool_;
    }

    Core& core_;
    Owner& owner_;
    offer_order<Core::policies::transport_count> order_; // by transport, not by composed position
    std::array<lane, Core::policies::transport_count> lanes_{};
    std::shared_ptr<handoff_inbox> inbox_;
    // Hand-offs sit in lists: a transport holds its transmission, and the
    // transmission its message, by reference until the hand-off completes.
    std::list<handoff> handoffs_;  // in flight or waiting for room
    std::list<handoff> spare_;     // done, kept for reuse
    std::list<handoff> grouping_;  // being filled by offer_to
    std::vector<std::size_t> inline_assigned_;        // offer_inline's buffers, reused
    std::vector<recipient_outcome> inline_outcomes_;
    std::vector<handoff_inbox::completed> inline_done_, applying_, arrived_;
    time_point now_{};
    std::vector<std::string> back_; // destinations up again since take_back()
    bool draining_ = false;
    std::unique_ptr<worker_pool> pool_; // last: its threads are joined before anything they might touch goes
};

} // namespace spool::detail
