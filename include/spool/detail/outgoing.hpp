#pragma once

// The spooler's outgoing side (MAPI "Sending messages: MAPI spooler tasks"):
// take queued messages in submit-time order, lock, preprocess, hand recipients
// to transports, and finish, defer or fail them.

#include <spool/detail/completion.hpp>
#include <spool/detail/dispatch.hpp>
#include <spool/detail/one_commit.hpp>
#include <spool/detail/guarded.hpp>
#include <spool/detail/queue_state.hpp>
#include <spool/detail/store_capabilities.hpp>
#include <spool/error.hpp>
#include <spool/message.hpp>
#include <spool/preprocessing.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <concepts>
#include <chrono>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace spool {

/// What one pass of the spooler did.
struct run_report {
    std::size_t examined = 0;  ///< queue entries looked at
    std::size_t processed = 0; ///< messages offered to transports (or preprocessed)
    std::size_t finished = 0;  ///< messages done: every recipient sent or failed
    std::size_t deferred = 0;  ///< messages kept for a later attempt
    std::size_t waiting = 0;   ///< messages not yet due, skipped
    std::size_t received = 0;  ///< incoming messages committed
    std::size_t store_errors = 0;
    std::optional<time_point> next_due; ///< the earliest time a waiting message is due
};

/// Counters since the spooler was made; a snapshot.
struct spooler_stats {
    std::size_t messages_finished = 0;
    std::size_t messages_received = 0;
    std::size_t reports_generated = 0;
    std::size_t recipients_sent = 0;
    std::size_t recipients_failed = 0;
    std::size_t recipients_deferred = 0;
    std::size_t preprocessing_failures = 0;
    std::size_t postprocessing_failures = 0;
    std::size_t receive_failures = 0;
    std::size_t outbound_hook_failures = 0;
    std::size_t observer_failures = 0;
    std::size_t store_errors = 0;
    std::error_code last_store_error;
};

namespace detail {

template <class Core>
class outgoing {
public:
    using message_type = typename Core::message_type;

    explicit outgoing(Core& core)
        : core_(core), order_([&](std::size_t slot) { return &core.types_of(Core::policies::transport_position[slot]); }) {}

    run_report run_once() {
        std::lock_guard run{run_mutex_};
        claim_store();
        run_report report;
        report.received = receive_waiting(core_, incoming_per_pass);
        if (store_paused(report)) return report;
        auto queue = core_.store().outgoing_queue();
        try {
            for (const queue_entry& entry : queue) {
                // Stop between messages: a stop hands off at most the message in progress.
                if (core_.stop_requested() || store_paused(report)) break;
                ++report.examined;
                process(entry.id, report);
                // A store that cannot batch commits each write alone anyway: holding
                // outcomes back would only keep their messages locked longer.
                if (!can_batch<typename Core::store_type> || completions_.size() >= group_limit_.load()) commit(report);
            }
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

    /// The most messages whose outcomes share one store commit (1: each its own).
    void group_commits(std::size_t limit) { group_limit_.store(limit == 0 ? 1 : limit); }

    /// Takes the store's spooler lock, where it has one, if not yet held.
    /// Throws std::system_error (errc::spool_in_use) while another spooler holds it.
    void claim() {
        std::lock_guard run{run_mutex_};
        claim_store();
    }

private:
    void claim_store() {
        if constexpr (locks_spooler<typename Core::store_type>)
            if (!store_lock_) store_lock_.emplace(core_.store().lock_spooler());
    }

    static constexpr std::size_t incoming_per_pass = 1000;

    void end_pass(run_report& report) {
        commit(report);
        {
            auto g = core_.queue().guard();
            release_committed();
        }
        publish_counts();
    }

    // Writes the outcomes gathered so far: one transaction where the store has
    // batch(), then the announcements, then the locks are released. Messages
    // stay locked until their outcome is on disk.
    void commit(run_report& report) {
        if (completions_.empty()) return;
        std::exception_ptr thrown;
        try {
            write_group(report);
        } catch (...) {
            thrown = std::current_exception();
        }
        // However the group ended, its slots go: a slot left behind would keep
        // its message locked and be written again by a later commit.
        for (const auto& slot : completions_) committed_.push_back(slot.done.id);
        unpublished_ += completions_.size();
        completions_.clear();
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
            for (; written < completions_.size(); ++written)
                completions_[written].error = write_completion(core_, completions_[written].done);
        };
        const bool batched = can_batch<typename Core::store_type> &&
                             (completions_.size() > 1 || writes_together(completions_.front().done));
        std::error_code batch_error;
        std::exception_ptr thrown;
        try {
            if (batched) batch_error = in_one_commit(core_.store(), write_all);
            else write_all();
        } catch (...) {
            // A store's batch() rolls back when its work throws, so none of the
            // group is written; without one, the writes before the throw are.
            thrown = std::current_exception();
            for (std::size_t i = batched ? 0 : written; i < completions_.size(); ++i)
                completions_[i].error = errc::store_failure;
        }
        for (auto& [done, deadline, error] : completions_) {
            if (const std::error_code ec = batch_error ? batch_error : error) {
                store_failed(done.id, done.now, report, ec);
            } else {
                forget_failures(done.id);
                announce_completion(core_, done, tally_);
                if (done.finished) ++report.finished;
                else {
                    ++report.deferred;
                    wait(done.id, next_due(done.message(), done.now, deadline), report);
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

    void process(message_id id, run_report& report) {
        auto& queue = core_.queue();
        const time_point now = core_.now();
        {
            auto g = queue.guard();
            release_committed();
            if (const auto due = queue.due(id); due > now) {
                ++report.waiting;
                note_due(report, due);
                return;
            }
            if (!queue.try_lock(id)) return; // a coupled submit holds it
            // Due: the wait is over. A pass that defers it again sets a new one.
            queue.forget(id);
        }
        // The message is worked on in its completion slot, where the store's
        // load put it. On every way out but the last the slot is dropped and
        // the message unlocked; at the last, commit() takes both over.
        struct release_on_exit {
            queue_state& q;
            message_id id;
            std::vector<pending_completion>& slots;
            bool has_slot = false;
            bool handed_over = false;
            ~release_on_exit() {
                if (handed_over) return;
                if (has_slot) slots.pop_back();
                auto g = q.guard();
                q.unlock(id);
            }
        } release{queue, id, completions_};
        // A load that throws adds no slot (emplace_back's strong guarantee); the lock is released all the same.
        pending_completion& slot = completions_.emplace_back(id, now, [&] { return core_.store().load(id); });
        completion<message_type>& c = slot.done;
        time_point& deadline = slot.deadline;
        release.has_slot = true;

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
        deadline = submitted_at + core_.max_lifetime();
        if (const time_point due = next_due(m, now, deadline); due > now && now < deadline) {
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

        if (now >= deadline) {
            expire(m, core_.max_lifetime());
        } else {
            dispatch_round<message_type> round(m, now, deadline, order_.steps(), scratch_);
            auto backoff = [&](unsigned n) { return core_.backoff(n); };
            // Two walks give offer_order's order: exact transports, then catch-alls.
            for (bool exact : {true, false})
                core_.for_each_transport([&](auto& t, std::size_t i) {
                    const std::size_t slot = Core::policies::transport_slot[i];
                    if (order_.exact(slot) == exact) round.offer(t, order_.step_of(slot), transports_[slot], backoff);
                });
            tally_.recipients_deferred += round.finish();
        }

        prepare_completion(core_, c);
        release.handed_over = true;
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

    struct pending_completion {
        template <class... Args>
        explicit pending_completion(Args&&... args) : done(std::forward<Args>(args)...) {}
        completion<message_type> done;
        time_point deadline{};
        std::error_code error; // of its store writes
    };

    Core& core_;
    std::mutex run_mutex_;
    offer_order<Core::policies::transport_count> order_; // by transport, not by composed position
    std::array<transport_state, Core::policies::transport_count> transports_{};
    std::vector<pending_completion> completions_;
    std::vector<message_id> committed_;   // committed, still to unlock
    tally tally_;                         // counted since the last publish_counts()
    std::size_t unpublished_ = 0;         // messages committed since then
    dispatch_scratch scratch_;
    std::atomic<std::size_t> group_limit_{64};
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
    std::optional<spooler_lock_of<typename Core::store_type>> store_lock_; // held from the first run for the spooler's life
};

} // namespace detail
} // namespace spool
