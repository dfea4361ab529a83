#pragma once

#include <spool/message.hpp>

#include <mutex>
#include <unordered_map>
#include <unordered_set>

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

    bool waiting(message_id id, time_point now) const {
        auto it = not_before_.find(id);
        return it != not_before_.end() && it->second > now;
    }
    void wait_until(message_id id, time_point t) { not_before_[id] = t; }
    void forget(message_id id) { not_before_.erase(id); }
    const std::unordered_map<message_id, time_point>& waits() const { return not_before_; }

    std::size_t lock_count() {
        auto g = guard();
        return locked_.size();
    }

private:
    std::mutex mutex_;
    std::unordered_set<message_id> locked_;
    std::unordered_map<message_id, time_point> not_before_;
};

} // namespace spool::detail
