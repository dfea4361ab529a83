#pragma once

// A shared-queue store object's own account of its claims: which messages it
// holds leased, under which fencing token, and when it last renewed them.
// The leases themselves are in the database; this says which are ours.

#include <spool/message.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace spool::detail {

class lease_book {
public:
    using clock = std::chrono::steady_clock;

    /// The claims an end-of-pass account keeps and lets go, with their tokens.
    struct partition {
        std::vector<std::int64_t> keep_ids, keep_fences, drop_ids, drop_fences;
    };

    void claimed(message_id id, std::int64_t fence) {
        std::lock_guard g{mutex_};
        // The renewal clock follows the oldest lease held: a stream of new
        // claims must not put off the renewal of earlier ones.
        if (claims_.empty()) renewed_ = clock::now();
        claims_[id] = fence;
    }
    std::optional<std::int64_t> token(message_id id) const {
        std::lock_guard g{mutex_};
        if (auto it = claims_.find(id); it != claims_.end()) return it->second;
        return std::nullopt;
    }
    std::size_t size() const {
        std::lock_guard g{mutex_};
        return claims_.size();
    }
    void forget(message_id id) {
        std::lock_guard g{mutex_};
        claims_.erase(id);
    }
    void forget(const std::vector<std::int64_t>& ids) {
        std::lock_guard g{mutex_};
        for (std::int64_t id : ids) claims_.erase(message_id{static_cast<std::uint64_t>(id)});
    }

    /// A claimed message was finished inside a batch: it leaves the book when
    /// the batch commits (so that the end-of-pass account need not release
    /// it), and stays if the batch rolls back.
    void finished_in_batch(message_id id) {
        std::lock_guard g{mutex_};
        finished_.push_back(id);
    }
    void batch_ended(bool committed) {
        std::lock_guard g{mutex_};
        if (committed)
            for (message_id id : finished_) claims_.erase(id);
        finished_.clear();
    }

    /// Splits the claims into those `in_hand` and the rest.
    partition split(const std::vector<message_id>& in_hand) const {
        partition p;
        std::lock_guard g{mutex_};
        for (const auto& [id, fence] : claims_) {
            const bool kept = std::find(in_hand.begin(), in_hand.end(), id) != in_hand.end();
            (kept ? p.keep_ids : p.drop_ids).push_back(static_cast<std::int64_t>(id));
            (kept ? p.keep_fences : p.drop_fences).push_back(fence);
        }
        return p;
    }

    /// Whether `interval` has passed since the last claim or renewal.
    bool renewal_due(std::chrono::milliseconds interval) const {
        std::lock_guard g{mutex_};
        return clock::now() - renewed_ >= interval;
    }
    /// The kept claims were renewed; those of `kept` not in `renewed` were
    /// taken by another process meanwhile, and are forgotten.
    void renewed(const std::vector<std::int64_t>& kept, const std::vector<std::int64_t>& renewed) {
        std::lock_guard g{mutex_};
        for (std::int64_t id : kept)
            if (std::find(renewed.begin(), renewed.end(), id) == renewed.end()) claims_.erase(message_id{static_cast<std::uint64_t>(id)});
        renewed_ = clock::now();
    }

private:
    mutable std::mutex mutex_;
    std::map<message_id, std::int64_t> claims_;
    std::vector<message_id> finished_; // in the batch under way
    clock::time_point renewed_{};
};

} // namespace spool::detail
