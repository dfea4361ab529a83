#pragma once

#include <spool/message.hpp>

#include <algorithm>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
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
    bool locked(message_id id) const { return locked_.contains(id); }
    bool try_lock(message_id id) { return locked_.insert(id).second; }
    void unlock(message_id id) { locked_.erase(id); }

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
    /// How many messages wait in memory for a later attempt.
    std::size_t waits() const { return not_before_.size(); }

    std::size_t lock_count() {
        auto g = guard();
        return locked_.size();
    }

private:
    std::mutex mutex_;
    // A pass may hold thousands locked (a destination at its limit with a
    // backlog behind it): a search through a flat list made each lock and
    // unlock cost as much as all of them.
    std::unordered_set<message_id> locked_;
    std::unordered_map<message_id, time_point> not_before_;
};

} // namespace spool::detail
