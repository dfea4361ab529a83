#pragma once

// The outgoing side's last stage: the outcomes of messages whose round is
// over are written, many to one store commit where the store has batch()
// (group commit), then announced; their locks are released after the write,
// so that a message stays locked until its outcome is on disk. Failed writes
// pause the store (or the one message), with a doubling wait. Where the group
// is one commit, the outcomes of a group the store itself failed (a full
// disk) are kept, their messages locked, and written again when the wait is
// over: that write is the probe, so nothing is handed off again while it
// fails, and nothing at all once it works. (A one-message probe could fit on
// a disk where the group did not, and every message went out again each time.)

#include <spool/detail/completion.hpp>
#include <spool/detail/counters.hpp>
#include <spool/detail/recipient_state.hpp>
#include <spool/detail/message_job.hpp>
#include <spool/detail/one_commit.hpp>
#include <spool/error.hpp>
#include <spool/message.hpp>
#include <spool/run_report.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <exception>
#include <system_error>
#include <utility>
#include <span>
#include <vector>

namespace spool::detail {

template <class Core>
class commit_group {
public:
    using message_type = typename Core::message_type;
    using store_type = typename Core::store_type;
    using job = message_job<message_type>;

    explicit commit_group(Core& core) : core_(core) {}

    /// The job's round is over: decide its reports and finish, and keep it for the next commit.
    void add(job& j) {
        tally_.recipients_deferred += j.deferred;
        prepare_completion(core_, j.done);
        ready_.push_back(&j);
    }

    /// Whether the group should be written now. A store that cannot batch
    /// commits each write alone anyway: holding outcomes back would only keep
    /// their messages locked longer.
    bool full() const { return !ready_.empty() && (!BatchingStore<store_type> || ready_.size() >= group_limit_.load()); }
    bool empty() const noexcept { return ready_.empty() && kept_.empty(); }

    /// Writes the outcomes kept from failed commits again, once the store's
    /// wait is over. False while they cannot be written (the pass takes
    /// nothing new then).
    bool retry_kept(run_report& report, bool before_the_wait_ends = false) {
        if (kept_.empty()) return true;
        if (!before_the_wait_ends && core_.now() < store_probe_at_) {
            note_due(report, store_probe_at_);
            return false;
        }
        ready_.insert(ready_.end(), kept_.begin(), kept_.end());
        kept_.clear();
        commit(report);
        if (!kept_.empty()) return false;
        store_faults_ = 0; // the probe was written
        return true;
    }
    /// Gives up the kept outcomes (a stop): their messages stay queued as the
    /// store has them, and are handed off again.
    void abandon_kept() {
        for (job* j : kept_) {
            committed_.push_back(j->done.id);
            released_.push_back(j);
        }
        kept_.clear();
    }

    /// The most messages whose outcomes share one store commit (1: each its own).
    void group_commits(std::size_t limit) { group_limit_.store(limit == 0 ? 1 : limit); }

    // Writes the outcomes gathered so far: one transaction where the store has
    // batch(), then the announcements; each job goes to released(). Their
    // messages stay locked until release_committed(), after the write.
    void commit(run_report& report) {
        if (ready_.empty()) return;
        std::exception_ptr thrown;
        try {
            write_group(report);
        } catch (...) {
            thrown = std::current_exception();
        }
        // However the group ended, its jobs go, but those kept to be written
        // again: one left behind would keep its message locked and be written
        // again by a later commit.
        for (job* j : ready_) {
            if (j->kept && !thrown) {
                j->kept = false;
                kept_.push_back(j);
                continue;
            }
            committed_.push_back(j->done.id);
            released_.push_back(j);
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

    /// The jobs done with (committed, or given up) since the last call: the
    /// orchestrator lets them go. Filled also when a commit throws.
    std::vector<job*>& released() noexcept { return released_; }

    // Committed messages are unlocked in the next section under the queue's
    // mutex (the next message's, or the end of the pass), not in one of their
    // own: the caller holds queue().guard().
    void release_committed() {
        for (message_id id : committed_) core_.queue().unlock(id);
        committed_.clear();
    }

    // The shared counters are atomics that clients read: they are brought up
    // to date every so many messages and at the end of a pass, not for each.
    void publish_counts() {
        core_.counts().add(std::exchange(tally_, {}));
        unpublished_ = 0;
    }

    // While the store cannot commit, nothing is handed off: an outcome that
    // cannot be recorded means sending the message again.
    bool store_paused(run_report& report) {
        if (store_faults_ == 0 || core_.now() >= store_probe_at_) return false;
        note_due(report, store_probe_at_);
        return true;
    }

    /// After failed commits, a write must work before anything is handed off.
    bool must_probe() const noexcept { return store_faults_ > 0; }
    void probe_written() noexcept { store_faults_ = 0; }

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

    /// The message is not looked at again before `due`.
    void wait(message_id id, time_point due, run_report& report) {
        note_due(report, due);
        auto g = core_.queue().guard();
        core_.queue().wait_until(id, due);
    }

private:
    static constexpr std::size_t publish_every = 64;

    // Inside the group's batch: the finishes without reports in one request
    // to the store (a round trip for the group, not one each), the rest one
    // by one as before.
    void write_finishes_together() {
        std::vector<finishing<message_type>> finishes;
        std::vector<job*> finishing_jobs;
        for (job* j : ready_) {
            if (j->done.finished && !writes_together(j->done)) {
                j->done.committed_reports.clear();
                finishes.push_back({j->done.id, &j->done.message()});
                finishing_jobs.push_back(j);
            } else {
                j->error = write_completion(core_, j->done);
            }
        }
        if (finishes.empty()) return;
        const std::vector<std::error_code> errors = core_.store().finish(std::span<const finishing<message_type>>(finishes));
        for (std::size_t i = 0; i < finishing_jobs.size(); ++i) finishing_jobs[i]->error = i < errors.size() ? errors[i] : errc::store_failure;
    }

    void write_group(run_report& report) {
        std::size_t written = 0;
        const bool batched = BatchingStore<store_type> && (ready_.size() > 1 || writes_together(ready_.front()->done));
        auto write_all = [&] {
            if constexpr (BulkFinishStore<store_type>) {
                if (batched) {
                    write_finishes_together();
                    written = ready_.size();
                    return;
                }
            }
            for (; written < ready_.size(); ++written) ready_[written]->error = write_completion(core_, ready_[written]->done);
        };
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
            if (const std::error_code ec = batch_error ? batch_error : j->error; ec == errc::lease_lost) {
                // Another process claimed the message after this one's lease
                // expired: the outcome is that process's to write now.
                core_.counts().store_error(ec);
                ++report.store_errors;
            } else if (ec && batched && store_fault(ec) && ec != errc::store_unavailable) {
                // The whole group failed in one commit, so none of it is
                // written: kept, to be written as it is when the wait is over.
                // One failed commit is one store error. (Not when the server
                // could not be reached: the commit may have happened with only
                // its answer lost, and then the message is let go and read
                // again from the store, which knows.)
                if (now >= store_probe_at_) {
                    ++report.store_errors;
                    core_.counts().store_error(ec);
                    store_probe_at_ = now + store_backoff(++store_faults_);
                }
                note_due(report, store_probe_at_);
                j->kept = true;
            } else if (ec) {
                store_failed(done.id, now, report, ec);
            } else {
                forget_failures(done.id);
                announce_completion(core_, done, tally_);
                if (done.finished) {
                    ++report.finished;
                } else {
                    ++report.deferred;
                    time_point due = next_due(done.message(), now, j->done.deadline);
                    // Recipients held for a destination that is down are due at its probe, not now.
                    if (j->held_until) due = due <= now ? *j->held_until : std::min(due, *j->held_until);
                    wait(done.id, due, report);
                }
            }
        }
        if (thrown) std::rethrow_exception(thrown);
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
        return ec.category() != spool_category() || ec == errc::store_failure || ec == errc::store_unavailable;
    }

    Core& core_;
    std::vector<job*> ready_;           // their round over, for the next commit
    std::vector<job*> kept_;            // of groups the store failed, to be written again
    std::vector<message_id> committed_; // committed, still to unlock
    std::vector<job*> released_;        // for the orchestrator to let go
    tally tally_;                       // counted since the last publish_counts()
    std::size_t unpublished_ = 0;       // messages committed since then
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
};

} // namespace spool::detail
