#pragma once

// The spooler's outgoing side (MAPI "Sending messages: MAPI spooler tasks"):
// the orchestrator of its stages, in the order a message meets them:
//   - take: due messages in submit-time order, locked and loaded (here);
//   - preprocess (preprocessing_stage.hpp);
//   - hand off: routing, scheduling and applying, a single synchronous round
//     (inline_handoffs.hpp) or concurrent hand-offs (concurrent_handoffs.hpp),
//     chosen at compile time;
//   - end the round (here), then commit (commit_group.hpp).
// Stages return what happened (a round that ended, a job to let go); only
// this file decides what follows. A pass runs on one thread (the caller of
// run_once()/drain(), or the background thread); transports may complete
// asynchronous hand-offs on any thread, and the next pass, which the
// completion wakes, applies them.

#include <spool/detail/commit_group.hpp>
#include <spool/detail/concurrent_handoffs.hpp>
#include <spool/detail/inline_handoffs.hpp>
#include <spool/detail/incoming.hpp>
#include <spool/detail/message_job.hpp>
#include <spool/detail/preprocessing_stage.hpp>
#include <spool/detail/queue_reader.hpp>
#include <spool/detail/queue_state.hpp>
#include <spool/detail/recipient_state.hpp>
#include <spool/detail/routing.hpp>
#include <spool/detail/wakeup.hpp>
#include <spool/store_capabilities.hpp>
#include <spool/delivery.hpp>
#include <spool/error.hpp>
#include <spool/message.hpp>
#include <spool/run_report.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <iterator>
#include <limits>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace spool::detail {

template <class Core>
class outgoing {
public:
    using message_type = typename Core::message_type;
    using store_type = typename Core::store_type;
    using job = message_job<message_type>;
    using handoff_stage = std::conditional_t<Core::plain_dispatch, inline_handoffs<Core>, concurrent_handoffs<Core>>;

    explicit outgoing(Core& core) : core_(core), queue_(core), commits_(core), handoffs_(core) {}
    outgoing(const outgoing&) = delete;
    outgoing& operator=(const outgoing&) = delete;
    ~outgoing() { shutdown(std::chrono::seconds{30}); }

    /// One pass: apply completed hand-offs, start those a limit held back, then
    /// (when `scan`) take the due messages of the queue.
    run_report run(bool scan) {
        std::lock_guard run{run_mutex_};
        queue_.claim_store();
        run_report report;
        report.received = receive_waiting(core_, incoming_per_pass);
        try {
            look_at_kept_returned(report);
            handoffs_.set_now(core_.now());
            apply_completed(report);
            if constexpr (!Core::plain_dispatch) {
                handoffs_.start_all_waiting(report);
                end_rounds(report);
                apply_completed(report);
            }
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
        return handoffs_.open();
    }

    /// Hand-offs started and not yet applied (not those a limit holds back).
    std::size_t in_flight() {
        std::lock_guard run{run_mutex_};
        return handoffs_.in_flight();
    }

    /// Waits until a hand-off completes, or `d` passes. True when one has.
    bool wait_for_completion(std::chrono::milliseconds d) {
        if constexpr (Core::plain_dispatch) return false; // nothing is ever in flight after a pass
        else return handoffs_.wait_until(std::chrono::steady_clock::now() + d);
    }

    /// Waits for the hand-offs in flight for up to `deadline`, applying and
    /// writing their outcomes as they come; then asks asynchronous transports
    /// to cancel theirs and waits for those completions. Hand-offs held back
    /// by a limit are not started: their recipients stay queued as they were.
    void shutdown(std::chrono::milliseconds deadline) {
        std::lock_guard run{run_mutex_};
        if (handoffs_.open() == 0 && commits_.empty()) return;
        run_report report;
        if constexpr (!Core::plain_dispatch) {
            handoffs_.draining(true);
            struct end_draining {
                handoff_stage& h;
                ~end_draining() { h.draining(false); }
            } restore{handoffs_};
            handoffs_.set_now(core_.now());
            apply_completed(report);
            handoffs_.start_all_waiting(report);
            end_rounds(report);
            const auto until = std::chrono::steady_clock::now() + deadline;
            while (handoffs_.open() > 0 && handoffs_.wait_until(until)) apply_completed(report);
            if (handoffs_.open() > 0) {
                handoffs_.cancel();
                // A hand-off completes exactly once, cancelled or not (a synchronous
                // one when its transmit() returns): its message is not let go before.
                while (handoffs_.open() > 0) {
                    handoffs_.wait_until(std::chrono::steady_clock::now() + std::chrono::seconds{1});
                    apply_completed(report);
                }
            }
        }
        // Outcomes kept from failed commits get one more try, then are given
        // up: their messages stay queued as stored, and go out again later.
        {
            letting_go release{*this};
            commits_.retry_kept(report, true);
            commits_.abandon_kept();
        }
        end_pass(report);
    }

    void group_commits(std::size_t limit) { commits_.group_commits(limit); }

    /// Takes the store's spooler lock, where it has one, if not yet held.
    /// Throws std::system_error (errc::spool_in_use) while another spooler holds it.
    void claim() {
        std::lock_guard run{run_mutex_};
        queue_.claim_store();
    }

    void set_limits(std::size_t slot, delivery_limits limits) {
        std::lock_guard run{run_mutex_};
        handoffs_.set_limits(slot, limits);
    }
    delivery_limits limits(std::size_t slot) {
        std::lock_guard run{run_mutex_};
        return handoffs_.limits(slot);
    }
    std::vector<destination_health> destinations() {
        if constexpr (Core::plain_dispatch) {
            return {}; // a single synchronous round keeps no destinations
        } else {
            std::lock_guard run{run_mutex_};
            return handoffs_.destinations();
        }
    }

private:
    // --- The round's end: the one place that decides what follows a round --

    // Recipients no transport took fail, and the message goes to the next
    // commit, or, when nothing changed but recipients wait for a destination
    // that is down, waits unwritten.
    void end_round(job& j, run_report& report) {
        message_type& m = j.done.message();
        if (j.unrouted > 0) {
            fail_unrouted(m, std::span<route_mark>(j.route.data(), j.route.size()), j.unrouted);
            j.unrouted = 0;
            j.changed = true;
        }
        if constexpr (!Core::plain_dispatch) // only the concurrent stage holds recipients for a destination
            if (j.held && !j.changed && !delay_report_due(core_, j.done)) return wait_for_destination(j, report);
        commits_.add(j);
    }

    // Nothing changed, but recipients wait for a destination that is down:
    // the message waits unwritten, in memory, and, where the store can, on
    // its queue row too, so that no pass reads it again before then. Not past
    // its lifetime: then it is due, and expires.
    void wait_for_destination(job& j, run_report& report) {
        const message_id id = j.done.id;
        if (j.held_until) {
            const time_point until = std::min(*j.held_until, j.done.deadline);
            commits_.wait(id, until, report);
            holds_.waiting_for[j.held_for].push_back(id);
            if constexpr (HoldBackStore<store_type>) holds_.held_back[{j.held_for, until}].push_back(id);
        }
        drop(j);
        auto g = core_.queue().guard();
        core_.queue().unlock(id);
    }

    // The rounds the concurrent stage reports over.
    void end_rounds(run_report& report) {
        if constexpr (!Core::plain_dispatch) {
            auto& ended = handoffs_.ended();
            for (std::size_t k = 0; k < ended.size(); ++k) end_round(*ended[k], report);
            ended.clear();
        }
    }

    // Completed hand-offs are applied, and the rounds they end are ended.
    void apply_completed(run_report& report) {
        if constexpr (!Core::plain_dispatch) {
            handoffs_.apply_completed(report);
            end_rounds(report);
        }
    }

    void hand_off(job& j, run_report& report) {
        handoffs_.offer(j, report);
        if constexpr (Core::plain_dispatch) end_round(j, report); // the single round is over
        else end_rounds(report);
    }

    static constexpr std::size_t incoming_per_pass = 1000;

    // Returned reports kept for later (returned_reports.hpp) are looked at on
    // the pass after one was kept here, then every kept_returned_retry while
    // some wait (a hand-off seldom lasts long; the pass comes back for them),
    // and every kept_returned_look besides: for those another process kept
    // before it stopped.
    static constexpr std::chrono::seconds kept_returned_retry{1}, kept_returned_look{300};
    void look_at_kept_returned(run_report& report) {
        if constexpr (Core::postprocesses && ReportBacklogStore<store_type>) {
            const time_point now = core_.now();
            if (core_.take_returned_kept() || now >= next_kept_look_) {
                kept_waiting_ = apply_kept_returned(core_, now);
                next_kept_look_ = now + (kept_waiting_ ? kept_returned_retry : kept_returned_look);
            }
            if (kept_waiting_) note_due(report, next_kept_look_);
        } else {
            (void)report;
        }
    }
    // Messages loaded and locked at once, as Postfix's active queue
    // (qmgr_message_active_limit 20000): past it a pass takes no more until
    // some are done, so a destination at its limit cannot fill memory.
    static constexpr std::size_t max_active = 20000;
    static constexpr std::size_t forget_every = 256;

    // --- Take: due messages in submit-time order, locked and loaded ---------

    void take_due(run_report& report) {
        rescan_ = false;
        {
            letting_go release{*this};
            if (!commits_.retry_kept(report)) return;
        }
        if (commits_.store_paused(report)) return;
        queue_.begin();
        for (;;) {
            const std::size_t want = room_to_take();
            if (queue_reader<Core>::by_demand && want == 0) return;
            const std::size_t processed = report.processed;
            const std::vector<queue_entry>& due = queue_.next(want, jobs_.size());
            for (std::size_t i = 0; i < due.size(); ++i) {
                if (queue_reader<Core>::lists_beyond_want && room_to_take() == 0) return;
                if (!take_one(due[i], report)) return;
                queue_.keep_leases([&] { return in_hand(); }, i + 1);
            }
            // Hand-offs made inline are done already and want more at once.
            if (!queue_.more_behind() || report.processed == processed) return;
        }
    }

    // False when the pass must end here (a stop, a paused store, max_active).
    bool take_one(const queue_entry& entry, run_report& report) {
        // Stop between messages: a stop takes no new message.
        if (core_.stop_requested() || commits_.store_paused(report)) return false;
        if (jobs_.size() >= max_active) {
            rescan_ = true;
            return false;
        }
        ++report.examined;
        take(entry, report);
        apply_completed(report); // a synchronous hand-off made inline has completed: apply it now
        // A store that cannot batch commits each write alone anyway: holding
        // outcomes back would only keep their messages locked longer.
        if (commits_.full()) commit(report);
        return true;
    }

    std::vector<message_id> in_hand() const {
        std::vector<message_id> ids;
        ids.reserve(jobs_.size());
        for (const job& j : jobs_) ids.push_back(j.done.id);
        return ids;
    }

    // How many more messages the pass may take: what the transports want,
    // within max_active. At 0 the passes that completions wake take more.
    std::size_t room_to_take() {
        const std::size_t want = std::min(max_active - std::min(jobs_.size(), max_active), handoffs_.wanted());
        if (want == 0) rescan_ = true;
        return want;
    }

    // One due message: locked, loaded, made ready, then handed off, or its
    // round ended at once (an administrator's request, an expired lifetime).
    void take(const queue_entry& entry, run_report& report) {
        const time_point now = core_.now();
        handoffs_.set_now(now);
        if (!lock_if_due(entry, now, report)) return;
        taken_message taken{*this, entry.id};
        job& j = taken.attach(new_job(entry.id, now)); // a load that throws adds no job; the lock is released all the same
        if (!ready(j, entry, now, report)) return;
        message_type& m = j.done.message();
        if (entry.request >= admin_request::expire) {
            j.done.discard = apply_request(m, entry.request);
            j.changed = true;
            return end_round(taken.hand_over(), report);
        }
        if (entry.request == admin_request::flush) {
            flush(m, now);
            handoffs_.probe_now(now);
        }
        if (const time_point due = next_due(m, now, j.done.deadline); due > now && now < j.done.deadline)
            return commits_.wait(entry.id, due, report);
        ++report.processed;
        if (has(m.submission, submit_flags::preprocess) && !preprocess_durably(j, now, report)) return;
        if (now >= j.done.deadline) {
            expire(m, core_.max_lifetime());
            j.changed = true;
            return end_round(taken.hand_over(), report);
        }
        hand_off(taken.hand_over(), report);
    }

    // Locks the message unless it waits for a later attempt (in memory) or is
    // locked already (a coupled submit holds it, or it is being handed off).
    bool lock_if_due(const queue_entry& entry, time_point now, run_report& report) {
        auto& queue = core_.queue();
        auto g = queue.guard();
        commits_.release_committed();
        // An administrator's request is applied now, whatever the message waits for.
        if (const auto due = queue.due(entry.id); due > now && entry.request == admin_request::none) {
            ++report.waiting;
            note_due(report, due);
            return false;
        }
        if (!queue.try_lock(entry.id)) return false;
        queue.forget(entry.id); // due: the wait is over; a pass that defers it again sets a new one
        return true;
    }

    // The loaded message, still submitted, with a store that takes writes:
    // marked locked for what sees it, its deadline set. False to let it go.
    bool ready(job& j, const queue_entry& entry, time_point now, run_report& report) {
        completion<message_type>& c = j.done;
        if (!c.loaded()) {
            commits_.store_failed(entry.id, now, report, c.load_error());
            return false;
        }
        message_type& m = c.message();
        if (!m.submitted()) return false; // aborted between the queue snapshot and the lock
        if (commits_.must_probe()) {
            // After failed commits, a write must work before anything is handed
            // off: the message, saved as it is, is the probe.
            if (auto ec = core_.store().save(entry.id, m)) {
                commits_.store_failed(entry.id, now, report, ec);
                return false;
            }
            commits_.probe_written();
        }
        c.begin(core_);
        m.submission |= submit_flags::locked; // what preprocessors and transports see; never stored
        const time_point submitted_at = m.client_submit_time.value_or(now);
        // Time on hold does not count toward the lifetime.
        j.done.deadline = submitted_at + core_.max_lifetime() + std::chrono::duration_cast<time_point::duration>(entry.held_for);
        return true;
    }

    // Preprocessing done is a durable step: a crash after it must not
    // preprocess twice. False when that write failed (the message waits).
    bool preprocess_durably(job& j, time_point now, run_report& report) {
        message_type& m = j.done.message();
        preprocess(core_, m, now);
        m.submission = m.submission & ~submit_flags::locked;
        if (auto ec = core_.store().save(j.done.id, m)) {
            commits_.store_failed(j.done.id, now, report, ec);
            return false;
        }
        m.submission |= submit_flags::locked;
        return true;
    }

    // A message taken from the queue: its lock, and from attach() on its job.
    // Both are let go when it goes, unless it was handed over (to a round,
    // which ends in end_round()).
    class taken_message {
    public:
        taken_message(outgoing& o, message_id id) noexcept : o_(&o), id_(id) {}
        taken_message(const taken_message&) = delete;
        taken_message& operator=(const taken_message&) = delete;
        ~taken_message() {
            if (!o_) return;
            if (job_) o_->drop(*job_);
            auto g = o_->core_.queue().guard();
            o_->core_.queue().unlock(id_);
        }
        job& attach(job& j) noexcept { return *(job_ = &j); }
        job& hand_over() noexcept {
            o_ = nullptr;
            return *job_;
        }

    private:
        outgoing* o_;
        message_id id_;
        job* job_ = nullptr;
    };

    // Lets go the jobs the commit group is done with, however the scope ends
    // (a commit that throws has released its jobs too).
    struct letting_go {
        outgoing& o;
        ~letting_go() {
            for (job* j : o.commits_.released()) o.drop(*j);
            o.commits_.released().clear();
        }
    };

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

    void commit(run_report& report) {
        letting_go release{*this};
        commits_.commit(report);
    }

    void end_pass(run_report& report) {
        // What is still in hand keeps its lease (renewed when due); every
        // other claim goes back, for any process to take when it is due: also
        // when a write below throws, or this object's claims would sit
        // unclaimable until they expire. A failure here costs only time.
        struct account_for_leases {
            outgoing& o;
            ~account_for_leases() {
                if constexpr (SharedQueueStore<store_type>) try {
                        o.core_.store().retain_leases(o.in_hand());
                    } catch (...) {
                        // Leases not released expire.
                    }
            }
        } leases{*this};
        apply_completed(report);
        commit(report);
        {
            auto g = core_.queue().guard();
            commits_.release_committed();
        }
        if constexpr (!Core::plain_dispatch) end_waits(); // a single round holds nothing for a destination
        commits_.publish_counts();
        report.in_flight = handoffs_.open();
        if constexpr (!Core::plain_dispatch)
            if (++passes_ % forget_every == 0) handoffs_.forget_idle();
    }

    // The messages held this pass for destinations that are down are written
    // so, where the store can, a group per destination; then the messages of
    // destinations back up (a probe answered, or an administrator's flush)
    // are due again at once: their waits in memory end, and their queue rows
    // are released, a write per destination. Before the pass's leases are
    // accounted for: a hold-back is the claim holder's write. A write that
    // fails leaves the waits in memory, which passes still honour.
    void end_waits() {
        if constexpr (HoldBackStore<store_type>) {
            for (auto& [key, ids] : holds_.held_back) try {
                    (void)core_.store().hold_back(ids, key.first, key.second);
                } catch (...) {
                    // As a failed write: the wait in memory stands.
                }
            holds_.held_back.clear();
        }
        for (const std::string& destination : handoffs_.take_back()) {
            if (auto it = holds_.waiting_for.find(destination); it != holds_.waiting_for.end()) {
                auto g = core_.queue().guard();
                for (message_id id : it->second) core_.queue().forget(id);
                holds_.waiting_for.erase(it);
            }
            if constexpr (HoldBackStore<store_type>) try {
                    (void)core_.store().release_held_back(destination);
                } catch (...) {
                    // Due at the time written, then.
                }
        }
    }

    Core& core_;
    queue_reader<Core> queue_;
    std::conditional_t<Core::single_threaded, no_lock, std::mutex> run_mutex_;
    std::list<job> jobs_; // messages taken and locked, not yet committed
    std::vector<std::vector<route_mark>> spare_routes_;
    commit_group<Core> commits_;
    handoff_stage handoffs_; // after jobs_: its hand-offs refer to them
    std::size_t passes_ = 0;
    time_point next_kept_look_{}; // the first pass looks
    bool kept_waiting_ = false;
    bool rescan_ = false; // the last scan stopped at max_active, or with the transports' demand met
    // Messages held for destinations that are down; inline dispatch has no destinations, and none of this.
    struct destination_holds {
        std::map<std::pair<std::string, time_point>, std::vector<message_id>> held_back; // this pass's, by destination and until
        std::map<std::string, std::vector<message_id>> waiting_for; // waiting in memory for a destination that is down
    };
    struct no_holds {};
    [[no_unique_address]] std::conditional_t<Core::plain_dispatch, no_holds, destination_holds> holds_;
};

} // namespace spool::detail
