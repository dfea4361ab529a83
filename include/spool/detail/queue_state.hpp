#pragma once

#include <spool/message.hpp>

#include <algorithm>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace spool::detail {

// What the spooler knows of queued messages beyond the store: which it holds
// locked (MAPI SUBMITFLAG_LOCKED) and which wait for a later attempt (MAPI's
// spooler-internal retry state). Both live in memory only: MAPI says the lock
// need not survive a shutdown, and a persisted lock would leave a message
// un-abortable after a crash; the wait is recomputed from the recipients'
// persisted next-attempt times. One mutex orders a client's abort or edit
// against the spooler taking the lock.
class queue_state {
public:
    std::unique_lock<std::mutex> guard() { return std::unique_lock{mutex_}; }

    // The callers of these hold guard().
    bool locked(message_id id) const { return std::find(locked_.begin(), locked_.end(), id) != locked_.end(); }
    bool try_lock(message_id id) {
        if (locked(id)) return false;
        locked_.push_back(id);
        return true;
    }
    void unlock(message_id id) {
        if (auto it = std::find(locked_.begin(), locked_.end(), id); it != locked_.end()) {
            *it = locked_.back();
            locked_.pop_back();
        }
    }

    /// When the message may next be tried; the epoch when it does not wait.
    /// Usually nothing waits, and then neither call hashes.
    time_point due(message_id id) const {
        if (not_before_.empty()) return {};
        auto it = not_before_.find(id);
        return it == not_before_.end() ? time_point{} : it->second;
    }
    void wait_until(message_id id, time_point t) { not_before_[id] = t; }
    void forget(message_id id) {
        if (!not_before_.empty()) not_before_.erase(id);
    }

    std::size_t lock_count() {
        auto g = guard();
        return locked_.size();
    }

private:
    std::mutex mutex_;
    // Few messages are locked at once (one group commit's worth, plus coupled
    // submits in flight), so a flat vector beats a node per lock.
    std::vector<message_id> locked_;
    std::unordered_map<message_id, time_point> not_before_;
};

} // namespace spool::detail
