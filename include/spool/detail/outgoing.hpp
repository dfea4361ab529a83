#pragma once

// The spooler's outgoing side (MAPI "Sending messages: MAPI spooler tasks"):
// take due messages in submit-time order and lock them, preprocess, offer
// their recipients to transports, hand them off (several at once, within
// each transport's and destination's limits), and complete and commit what
// the hand-offs settled, many messages to a commit.
//
// Everything here runs on the thread that runs the pass. Transports may
// complete asynchronous hand-offs on any thread: those land in the inbox and
// are applied by the next pass, which the completion wakes.

#include <spool/delivery.hpp>
#include <spool/detail/completion.hpp>
#include <spool/detail/destinations.hpp>
#include <spool/detail/dispatch.hpp>
#include <spool/detail/guarded.hpp>
#include <spool/detail/handoff_inbox.hpp>
#include <spool/detail/one_commit.hpp>
#include <spool/detail/queue_state.hpp>
#include <spool/detail/requirements.hpp>
#include <spool/detail/store_capabilities.hpp>
#include <spool/error.hpp>
#include <spool/events.hpp>
#include <spool/message.hpp>
#include <spool/preprocessing.hpp>
#include <spool/run_report.hpp>
#include <spool/transmit_handler.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <concepts>
#include <exception>
#include <iterator>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace spool::detail {

/// Whether a transport's hand-offs complete later, through a transmit_handler.
template <class T, class M>
inline constexpr bool hands_off_later = transport_transmits_later<T, M>;

template <class Core>
class outgoing {
public:
    using message_type = typename Core::message_type;
    using store_type = typename Core::store_type;

    explicit outgoing(Core& core)
        : core_(core), order_([&](std::size_t slot) { return &core.types_of(Core::policies::transport_position[slot]); }),
          inbox_(std::make_shared<handoff_inbox>(&wake_core, &core)) {
        core_.for_each_transport([&](auto& t, std::size_t i) {
            configure<std::remove_cvref_t<decltype(t)>>(Core::policies::transport_slot[i], delivery_limits{});
        });
    }
    outgoing(const outgoing&) = delete;
    outgoing& operator=(const outgoing&) = delete;
    ~outgoing() {
        shutdown(std::chrono::seconds{30});
        inbox_->detach();
    }

    /// One pass: apply completed hand-offs, start those a limit held back, then
    /// (when `scan`) take the due messages of the queue.
    run_report run(bool scan) {
        std::lock_guard run{run_mutex_};
        claim_store();
        run_report report;
        report.received = receive_waiting(core_, incoming_per_pass);
        try {
            now_ = core_.now();
            settle(report);
            for (std::size_t slot = 0; slot < lanes_.size(); ++slot) start_waiting(slot, report);
            settle(report);
            if (scan || rescan_) take_due(report);
        } catch (...) {
            // A store that throws ends the pass and the caller sees the exception.
            // What the pass settled before it is still written: sending it again
            // would be worse than a late record.
            end_pass(report);
            throw;
        }
        end_pass(report);
        return report;
    }

    /// Hand-offs in flight or held back by a limit.
    std::size_t open_handoffs() {
        std::lock_guard run{run_mutex_};
        return handoffs_.size();
    }

    /// Hand-offs started and not yet applied (not those a limit holds back).
    std::size_t in_flight() {
        std::lock_guard run{run_mutex_};
        std::size_t n = 0;
        for (const lane& l : lanes_) n += l.in_flight;
        return n;
    }

    /// Waits until a hand-off completes, or `d` passes. True when one has.
    bool wait_for_completion(std::chrono::milliseconds d) {
        return inbox_->wait_until(std::chrono::steady_clock::now() + d);
    }

    /// Waits for the hand-offs in flight for up to `deadline`, applying and
    /// writing their outcomes as they come; then asks asynchronous transports
    /// to cancel theirs and waits for those completions. Hand-offs held back
    /// by a limit are not started: their recipients stay queued as they were.
    void shutdown(std::chrono::milliseconds deadline) {
        std::lock_guard run{run_mutex_};
        if (handoffs_.empty() && ready_.empty()) return;
        run_report report;
        draining_ = true;
        struct end_draining {
            bool& d;
            ~end_draining() { d = false; }
        } restore{draining_};
        now_ = core_.now();
        settle(report);
        for (std::size_t slot = 0; slot < lanes_.size(); ++slot) start_waiting(slot, report);
        const auto until = std::chrono::steady_clock::now() + deadline;
        while (!handoffs_.empty() && inbox_->wait_until(until)) settle(report);
        if (!handoffs_.empty()) {
            core_.for_each_transport([&](auto& t, std::size_t) {
                if constexpr (transport_cancels<std::remove_cvref_t<decltype(t)>>)
                    guarded([&] { t.cancel_transmissions(); }, [](const std::string&) {});
            });
            // A hand-off completes exactly once, cancelled or not (a synchronous
            // one when its transmit() returns): its message is not let go before.
            while (!handoffs_.empty()) {
                inbox_->wait_until(std::chrono::steady_clock::now() + std::chrono::seconds{1});
                settle(report);
            }
        }
        end_pass(report);
    }

    /// The most messages whose outcomes share one store commit (1: each its own).
    void group_commits(std::size_t limit) { group_limit_.store(limit == 0 ? 1 : limit); }

    /// Takes the store's spooler lock, where it has one, if not yet held.
    /// Throws std::system_error (errc::spool_in_use) while another spooler holds it.
    void claim() {
        std::lock_guard run{run_mutex_};
        claim_store();
    }

    /// Sets the limits of the transport at `slot` (its position among the transports).
    template <class T>
    void set_limits(std::size_t slot, delivery_limits limits) {
        std::lock_guard run{run_mutex_};
        configure<T>(slot, limits);
    }
    delivery_limits limits(std::size_t slot) {
        std::lock_guard run{run_mutex_};
        delivery_limits l = lanes_[slot].limits;
        l.max_in_flight = lanes_[slot].max_in_flight;
        return l;
    }

    std::vector<destination_health> destinations() {
        std::lock_guard run{run_mutex_};
        std::vector<destination_health> out;
        for (std::size_t slot = 0; slot < lanes_.size(); ++slot)
            lanes_[slot].for_each([&](const std::string& key, const destination& d) {
                out.push_back({slot, key, d.health, d.in_flight, d.waiting.size(), d.failures, d.next_probe, d.last_error});
            });
        return out;
    }

private:
    static constexpr std::size_t incoming_per_pass = 1000;
    // Messages loaded and locked at once, as Postfix's active queue
    // (qmgr_message_active_limit 20000): past it a pass takes no more until
    // some are done, so a destination at its limit cannot fill memory.
    static constexpr std::size_t max_active = 20000;

    static void wake_core(void* core) { static_cast<Core*>(core)->wake_handoffs(); }

    void claim_store() {
        if constexpr (locks_spooler<store_type>)
            if (!store_lock_) store_lock_.emplace(core_.store().lock_spooler());
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
        l.on_workers = !later && l.max_in_flight > 1;
        std::size_t threads = 0;
        for (const lane& each : lanes_)
            if (each.on_workers) threads += each.max_in_flight;
        if (threads > 0) pool().grow_to(threads);
    }

    worker_pool& pool() {
        if (!pool_) pool_ = std::make_unique<worker_pool>();
        return *pool_;
    }

    // --- Take: due messages in submit-time order, locked and loaded ---------

    void take_due(run_report& report) {
        rescan_ = false;
        if (store_paused(report)) return;
        for (const queue_entry& entry : due_entries()) {
            // Stop between messages: a stop takes no new message.
            if (core_.stop_requested() || store_paused(report)) break;
            if (jobs_.size() >= max_active) {
                rescan_ = true;
                break;
            }
            ++report.examined;
            take(entry.id, report);
            settle(report); // a synchronous hand-off made inline has completed: apply it now
            // A store that cannot batch commits each write alone anyway: holding
            // outcomes back would only keep their messages locked longer.
            if (!can_batch<store_type> || ready_.size() >= group_limit_.load()) commit(report);
        }
    }

    // What a pass looks at: only the due messages where the store can tell
    // (those in hand come back too, and are passed over), else the whole queue.
    auto due_entries() {
        if constexpr (lists_due<store_type>) return core_.store().due_queue(core_.now(), max_active + jobs_.size());
        else return core_.store().outgoing_queue();
    }

    void take(message_id id, run_report& report) {
        auto& queue = core_.queue();
        const time_point now = now_ = core_.now();
        {
            auto g = queue.guard();
            release_committed();
            if (const auto due = queue.due(id); due > now) {
                ++report.waiting;
                note_due(report, due);
                return;
            }
            if (!queue.try_lock(id)) return; // a coupled submit holds it, or it is being handed off
            // Due: the wait is over. A pass that defers it again sets a new one.
            queue.forget(id);
        }
        // On every way out but the last the job is dropped and the message
        // unlocked; at the last, the hand-offs and commit() take both over.
        struct release_on_exit {
            outgoing& o;
            message_id id;
            bool has_job = false;
            bool handed_over = false;
            ~release_on_exit() {
                if (handed_over) return;
                if (has_job) o.drop(o.jobs_.back());
                auto g = o.core_.queue().guard();
                o.core_.queue().unlock(id);
            }
        } release{*this, id};
        // A load that throws adds no job; the lock is released all the same.
        job& j = new_job(id, now);
        release.has_job = true;
        completion<message_type>& c = j.done;

        if (!c.loaded()) return store_failed(id, now, report, c.load_error());
        message_type& m = c.message();
        if (!m.submitted()) return; // aborted between the queue snapshot and the lock
        if (store_faults_ > 0) {
            // After failed commits, a write must work before anything is handed
            // off: the message, saved as it is, is the probe.
            if (auto ec = core_.store().save(id, m)) return store_failed(id, now, report, ec);
            store_faults_ = 0;
        }
        c.begin(core_);
        m.submission |= submit_flags::locked; // what preprocessors and transports see; never stored

        const time_point submitted_at = m.client_submit_time.value_or(now);
        j.deadline = submitted_at + core_.max_lifetime();
        if (const time_point due = next_due(m, now, j.deadline); due > now && now < j.deadline) {
            wait(id, due, report);
            return;
        }
        ++report.processed;

        if (has(m.submission, submit_flags::preprocess)) {
            preprocess(m, now);
            // Preprocessing done is a durable step: a crash after it must not preprocess twice.
            m.submission = m.submission & ~submit_flags::locked;
            if (auto ec = core_.store().save(id, m)) return store_failed(id, now, report, ec);
            m.submission |= submit_flags::locked;
        }

        release.handed_over = true;
        if (now >= j.deadline) {
            expire(m, core_.max_lifetime());
            j.changed = true;
            finish(j, report);
        } else {
            route(j, now);
            offer(j, report);
        }
    }

    // --- Offer and hand off ---------------------------------------------------

    // Where a recipient is in its message's round: the step of the offer
    // order it waits for, or one of these marks. An enum rather than a
    // character type, which could alias anything and cost reloads.
    static constexpr route_mark done_here{0xFF}; // not in play, settled, deferred or held in this round
    static constexpr route_mark unrouted{0xFE};  // in play, and no step left matches it
    static constexpr route_mark in_hand{0xFD};   // in a hand-off, in flight or waiting for room
    static constexpr route_mark at(std::size_t step) noexcept { return static_cast<route_mark>(step); }
    static_assert(Core::policies::transport_count < 0xFD, "spool: too many composed transports");

    struct job;
    struct handoff {
        job* owner = nullptr;
        std::size_t slot = 0;
        std::size_t step = 0;
        destination* dest = nullptr;
        std::vector<std::size_t> assigned;
        std::vector<transmit_outcome> outcomes;
        std::optional<transmission<message_type>> tx;
        void* transport = nullptr;
        handoff_sink* sink = nullptr;
        typename std::list<handoff>::iterator self;
    };

    struct job {
        template <class Load>
        job(message_id id, time_point now, Load&& load) : done(id, now, std::forward<Load>(load)) {}
        completion<message_type> done;
        time_point deadline{};
        std::error_code error; // of its store writes
        std::vector<route_mark> route;
        std::size_t open = 0;     // hand-offs in flight or waiting for room
        std::size_t unrouted = 0; // recipients for finish() to fail
        std::size_t deferred = 0;
        unsigned offering = 0;    // offer() calls in progress (an inline hand-off may offer again from inside one)
        bool changed = false;     // something to write
        bool held = false;        // recipients left as they were, for a destination that is down or a stop
        std::optional<time_point> held_until;
        typename std::list<job>::iterator self;
    };

    route_mark route_from(job& j, const recipient& r, std::size_t step) {
        const auto steps = order_.steps();
        for (; step < steps.size(); ++step)
            if (steps[step]->matches(r.address_type)) return at(step);
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
    // catch-alls, MAPI's order), the recipients waiting for its step.
    // Ends the round when nothing is left open.
    void offer(job& j, run_report& report) {
        ++j.offering;
        for (bool exact : {true, false})
            core_.for_each_transport([&](auto& t, std::size_t i) {
                const std::size_t slot = Core::policies::transport_slot[i];
                if (order_.exact(slot) == exact) offer_to(t, slot, j, report);
            });
        if (--j.offering == 0 && j.open == 0) finish(j, report);
    }

    template <class T>
    void offer_to(T& t, std::size_t slot, job& j, run_report& report) {
        const std::size_t step = order_.step_of(slot);
        const route_mark here = at(step);
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
        const route_mark here = at(step);
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
        const std::span<transmit_outcome> outcomes(inline_outcomes_.data(), assigned.size());
        destination& d = l.unnamed();
        l.started(d, now_);
        transmission<message_type> tx(j.done.message(), {assigned.data(), assigned.size()}, outcomes, now_);
        const transmit_result result = transmit_now(t, tx);
        ++j.open;
        // The buffers are read before anything is offered again, so a nested offer may reuse them.
        const bool passed_on = apply_handoff(j, slot, step, d, {assigned.data(), assigned.size()}, outcomes, result, report);
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
        if (until) j.held_until = j.held_until ? std::min(*j.held_until, *until) : *until;
        recycle(h);
        --j.open;
    }

    template <class T>
    void start(T& t, handoff& h) {
        lane& l = lanes_[h.slot];
        const time_point now = now_;
        l.started(*h.dest, now);
        h.tx.emplace(h.owner->done.message(), std::span<const std::size_t>(h.assigned.data(), h.assigned.size()),
                     std::span<transmit_outcome>(h.outcomes.data(), h.outcomes.size()), now);
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
                        if (j.open == 0 && j.offering == 0) finish(j, report);
                        continue;
                    }
                    if (d.health == destination::state::down) d.health = destination::state::probing;
                    start(t, h);
                }
                return draining_ || l.in_flight < l.max_in_flight;
            });
        });
    }

    // --- Complete: apply what hand-offs reported ------------------------------

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

    void complete(handoff& h, transmit_result&& result, run_report& report) {
        const std::size_t slot = h.slot;
        job& j = *h.owner;
        const bool passed_on = apply_handoff(j, slot, h.step, *h.dest, h.assigned, h.outcomes, result, report);
        recycle(h);
        after_handoff(j, passed_on, report);
        start_waiting(slot, report);
    }

    // What a completed hand-off means for its transport, its destination and
    // its recipients. True when a recipient it declined waits for a later step.
    bool apply_handoff(job& j, std::size_t slot, std::size_t step, destination& d, std::span<const std::size_t> assigned,
                       std::span<transmit_outcome> outcomes, const transmit_result& result, run_report& report) {
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
                core_.notify(destination_event{slot, key_of(l, d), destination_event::change::down, reason, d.next_probe});
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
                if (l.answered(d)) core_.notify(destination_event{slot, key_of(l, d), destination_event::change::up, {}, {}});
        }

        message_type& m = j.done.message();
        auto retry_at = [&](unsigned n) { return now + core_.backoff(n); };
        bool passed_on = false;
        for (std::size_t k = 0; k < assigned.size(); ++k) {
            const std::size_t i = assigned[k];
            recipient& r = m.recipients[i];
            j.route[i] = done_here;
            if (what != transmit_result::kind::not_me) {
                if (outcomes[k].what != transmit_outcome::kind::none) j.changed = true;
                if (apply_outcome(outcomes[k], r, now, j.deadline, retry_at)) {
                    ++j.deferred;
                    continue;
                }
            }
            outcomes[k].what = transmit_outcome::kind::none;
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

    // A hand-off of the job is over: offer what it declined, and end the
    // round when nothing is left open. A hand-off made inline completes
    // inside offer(); the round then ends when that offer() returns.
    void after_handoff(job& j, bool passed_on, run_report& report) {
        --j.open;
        if (passed_on) offer(j, report);
        else if (j.open == 0 && j.offering == 0) finish(j, report);
    }

    static std::string key_of(lane& l, const destination& d) {
        std::string key;
        l.for_each([&](const std::string& k, const destination& each) {
            if (&each == &d) key = k;
        });
        return key;
    }

    void defer(job& j, std::size_t i, time_point at, const std::string& reason, const std::string& diagnostic) {
        defer_recipient(j.done.message().recipients[i], std::min(at, j.deadline), reason, diagnostic);
        j.route[i] = done_here;
        ++j.deferred;
        j.changed = true;
    }

    // The round is over for this message: recipients no transport took fail,
    // and the message goes to the next commit, or, when nothing changed but
    // recipients wait for a destination that is down, waits unwritten.
    void finish(job& j, run_report& report) {
        message_type& m = j.done.message();
        for (std::size_t i = 0; j.unrouted > 0 && i < j.route.size(); ++i)
            if (j.route[i] == unrouted) {
                --j.unrouted;
                recipient& r = m.recipients[i];
                fail(r, "no transport accepted address type '" + r.address_type + "'", no_route_diagnostic);
                j.changed = true;
            }
        if (j.held && !j.changed) {
            const message_id id = j.done.id;
            if (j.held_until) wait(id, *j.held_until, report);
            drop(j);
            auto g = core_.queue().guard();
            core_.queue().unlock(id);
            return;
        }
        tally_.recipients_deferred += j.deferred;
        prepare_completion(core_, j.done);
        ready_.push_back(&j);
    }

    // --- Commit: outcomes to the store, many messages to a commit -------------

    job& new_job(message_id id, time_point now) {
        job& j = jobs_.emplace_back(id, now, [&] { return core_.store().load(id); }); // the message loads in place
        j.self = std::prev(jobs_.end());
        if (!spare_routes_.empty()) {
            j.route = std::move(spare_routes_.back());
            spare_routes_.pop_back();
        }
        return j;
    }
    // A job's routing buffer is kept for the next, so that routing allocates nothing once warm.
    void drop(job& j) {
        if (spare_routes_.size() < 64) spare_routes_.push_back(std::move(j.route));
        jobs_.erase(j.self);
    }

    void end_pass(run_report& report) {
        settle(report);
        commit(report);
        {
            auto g = core_.queue().guard();
            release_committed();
        }
        publish_counts();
        report.in_flight = handoffs_.size();
        if (++passes_ % forget_every == 0)
            for (lane& l : lanes_) l.forget_idle();
    }
    static constexpr std::size_t forget_every = 256;

    // Writes the outcomes gathered so far: one transaction where the store has
    // batch(), then the announcements, then the locks are released. Messages
    // stay locked until their outcome is on disk.
    void commit(run_report& report) {
        if (ready_.empty()) return;
        std::exception_ptr thrown;
        try {
            write_group(report);
        } catch (...) {
            thrown = std::current_exception();
        }
        // However the group ended, its jobs go: one left behind would keep its
        // message locked and be written again by a later commit.
        for (job* j : ready_) {
            committed_.push_back(j->done.id);
            drop(*j);
        }
        unpublished_ += ready_.size();
        ready_.clear();
        if (thrown) {
            {
                auto g = core_.queue().guard();
                release_committed();
            }
            publish_counts();
            std::rethrow_exception(thrown);
        }
        if (unpublished_ >= publish_every) publish_counts();
    }

    void write_group(run_report& report) {
        std::size_t written = 0;
        auto write_all = [&] {
            for (; written < ready_.size(); ++written) ready_[written]->error = write_completion(core_, ready_[written]->done);
        };
        const bool batched = can_batch<store_type> && (ready_.size() > 1 || writes_together(ready_.front()->done));
        std::error_code batch_error;
        std::exception_ptr thrown;
        try {
            if (batched) batch_error = in_one_commit(core_.store(), write_all);
            else write_all();
        } catch (...) {
            // A store's batch() rolls back when its work throws, so none of the
            // group is written; without one, the writes before the throw are.
            thrown = std::current_exception();
            for (std::size_t i = batched ? 0 : written; i < ready_.size(); ++i) ready_[i]->error = errc::store_failure;
        }
        const time_point now = core_.now();
        for (job* j : ready_) {
            completion<message_type>& done = j->done;
            if (const std::error_code ec = batch_error ? batch_error : j->error) {
                store_failed(done.id, now, report, ec);
            } else {
                forget_failures(done.id);
                announce_completion(core_, done, tally_);
                if (done.finished) {
                    ++report.finished;
                } else {
                    ++report.deferred;
                    time_point due = next_due(done.message(), now, j->deadline);
                    // Recipients held for a destination that is down are due at its probe, not now.
                    if (j->held_until) due = due <= now ? *j->held_until : std::min(due, *j->held_until);
                    wait(done.id, due, report);
                }
            }
        }
        if (thrown) std::rethrow_exception(thrown);
    }

    // Committed messages are unlocked in the next section under the queue's
    // mutex (the next message's, or the end of the pass), not in one of their own.
    void release_committed() {
        for (message_id id : committed_) core_.queue().unlock(id);
        committed_.clear();
    }

    // The shared counters are atomics that clients read: they are brought up
    // to date every so many messages and at the end of a pass, not for each.
    static constexpr std::size_t publish_every = 64;
    void publish_counts() {
        core_.counts().add(std::exchange(tally_, {}));
        unpublished_ = 0;
    }

    // A store that failed a step is asked again later rather than at once, so
    // that drain() ends and a failing disk is not hammered. Nothing is lost:
    // the message stays queued as it was before the failed step. The wait
    // doubles with each failure in a row, up to 64 s.
    static constexpr std::chrono::seconds store_retry{1};
    static constexpr unsigned max_doublings = 6;
    static std::chrono::seconds store_backoff(unsigned failures) {
        return store_retry * (1u << std::min(failures == 0 ? 0u : failures - 1, max_doublings));
    }

    // An error of the store itself (I/O, a full disk, a failed commit), as
    // against one about this message (too large, gone, undecodable).
    static bool store_fault(std::error_code ec) {
        return ec.category() != spool_category() || ec == errc::store_failure;
    }

    // While the store cannot commit, nothing is handed off: an outcome that
    // cannot be recorded means sending the message again.
    bool store_paused(run_report& report) {
        if (store_faults_ == 0 || core_.now() >= store_probe_at_) return false;
        note_due(report, store_probe_at_);
        return true;
    }

    void preprocess(message_type& m, time_point now) {
        std::optional<std::string> failure;
        core_.for_each_preprocessor([&](auto& p, const spool::address_types& types) {
            if (failure || !preprocessor_applies(types, m)) return;
            preprocessing<message_type> job(m, now);
            const preprocess_result result =
                guarded([&] { return p.preprocess(job); },
                        [](const std::string& what) { return preprocess_result::fail("preprocessor threw: " + what); });
            for (const auto& u : job.undeliverable_recipients())
                for (recipient& r : m.recipients)
                    if (awaiting_transport(r) && r.address_type == u.address_type && r.address == u.address)
                        fail(r, u.reason, u.diagnostic.empty() ? preprocessing_diagnostic : u.diagnostic);
            if (!result.succeeded()) failure = result.reason();
        });
        if (failure) {
            for (recipient& r : m.recipients)
                if (awaiting_transport(r)) fail(r, "preprocessing failed: " + *failure, preprocessing_diagnostic);
            core_.counts().preprocessing_failures.fetch_add(1);
        }
        m.submission = m.submission & ~submit_flags::preprocess;
    }

    void wait(message_id id, time_point due, run_report& report) {
        note_due(report, due);
        auto g = core_.queue().guard();
        core_.queue().wait_until(id, due);
    }

    static void note_due(run_report& report, time_point due) {
        report.next_due = report.next_due ? std::min(*report.next_due, due) : due;
    }

    void store_failed(message_id id, time_point now, run_report& report, std::error_code ec) {
        ++report.store_errors;
        core_.counts().store_error(ec);
        if (store_fault(ec)) {
            // The whole store: no hand-off until the probe time, then a write
            // first. The messages of one failed commit count once.
            if (now >= store_probe_at_) store_probe_at_ = now + store_backoff(++store_faults_);
            wait(id, store_probe_at_, report);
        } else {
            wait(id, now + store_backoff(++failures_of(id)), report);
        }
    }

    Core& core_;
    std::mutex run_mutex_;
    offer_order<Core::policies::transport_count> order_; // by transport, not by composed position
    std::array<lane, Core::policies::transport_count> lanes_{};
    std::shared_ptr<handoff_inbox> inbox_;
    // Jobs and hand-offs sit in lists: a transport holds its transmission, and
    // the transmission its message, by reference until the hand-off completes.
    std::list<job> jobs_;          // messages taken and locked, not yet committed
    std::vector<job*> ready_;      // their round over, for the next commit
    std::list<handoff> handoffs_;  // in flight or waiting for room
    std::list<handoff> spare_;     // done, kept for reuse
    std::list<handoff> grouping_;  // being filled by offer_to
    std::vector<std::vector<route_mark>> spare_routes_;
    std::vector<std::size_t> inline_assigned_;        // offer_inline's buffers, reused
    std::vector<transmit_outcome> inline_outcomes_;
    std::vector<handoff_inbox::completed> inline_done_, applying_, arrived_;
    std::vector<message_id> committed_; // committed, still to unlock
    tally tally_;                       // counted since the last publish_counts()
    std::size_t unpublished_ = 0;       // messages committed since then
    std::size_t passes_ = 0;
    std::atomic<std::size_t> group_limit_{64};
    time_point now_{};      // the spooler's clock for the step in progress: one reading per message or batch of completions
    bool rescan_ = false;   // the last scan stopped at max_active
    bool draining_ = false; // shutdown(): start nothing new
    unsigned store_faults_ = 0;   // store-level failures in a row; hand-offs wait while > 0
    time_point store_probe_at_{}; // when a write may be tried again
    // Message-level failures in a row, by message. Few messages fail at once,
    // so a flat list (and no hash table for every user's compiler to instantiate).
    std::vector<std::pair<message_id, unsigned>> message_failures_;
    unsigned& failures_of(message_id id) {
        for (auto& [failed, count] : message_failures_)
            if (failed == id) return count;
        return message_failures_.emplace_back(id, 0).second;
    }
    void forget_failures(message_id id) {
        if (!message_failures_.empty()) std::erase_if(message_failures_, [id](const auto& f) { return f.first == id; });
    }
    std::optional<spooler_lock_of<store_type>> store_lock_; // held from the first run for the spooler's life
    std::unique_ptr<worker_pool> pool_; // last: its threads are joined before anything they might touch goes
};

} // namespace spool::detail
