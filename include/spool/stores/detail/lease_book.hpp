#pragma once

// A shared-queue store object's own account of its claims: which messages it
// holds leased, under which fencing token, and when it last renewed them.
// The leases themselves are in the database; this says which are ours.
//
// A claim stays in the book until its outcome is written or the spooler gives
// it up (retain_leases without it). A renewal that finds a claim taken by
// another process marks it lost rather than forgetting it: forgotten, the
// store would write the late outcome as if it had never claimed the message,
// unfenced, over the new holder's (law Q3).

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

/// The fewest messages a durable store's claim is worth. A claim is a
/// transaction and a commit: claimed two at a time (what a transport with a
/// limit of one wants), the PostgreSQL store spent a commit per two messages
/// and drained 10,000 messages in 4.3 s, against 1.4 s at this floor
/// (docs/performance.md).
inline constexpr std::size_t durable_claim_floor = 64;

class lease_book {
public:
    using clock = std::chrono::steady_clock;

    /// This object's claim on a message: the token its writes carry, and
    /// whether another process has claimed the message since (then every
    /// write about it is refused with errc::lease_lost).
    struct claim {
        std::int64_t fence = 0;
        bool lost = false;
    };

    void claimed(message_id id, std::int64_t fence) {
        std::lock_guard g{mutex_};
        // The renewal clock follows the oldest lease held: a stream of new
        // claims must not put off the renewal of earlier ones.
        if (claims_.empty()) renewed_ = clock::now();
        claims_[id] = claim{fence, false};
    }
    std::optional<claim> find(message_id id) const {
        std::lock_guard g{mutex_};
        if (auto it = claims_.find(id); it != claims_.end()) return it->second;
        return std::nullopt;
    }
    bool holds(message_id id) const { return find(id).has_value(); }
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
    /// A write found the claim's token stale: every later write is refused too.
    void lost(message_id id) {
        std::lock_guard g{mutex_};
        if (auto it = claims_.find(id); it != claims_.end()) it->second.lost = true;
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

    /// What an end-of-pass account writes, the same for every backend: the
    /// claims not in hand, released (by id and token), and, when a renewal
    /// is due, those in hand, renewed. Lost claims not in hand leave the book
    /// at once, unwritten: another process holds them.
    struct account {
        std::vector<std::int64_t> release_ids, release_fences, renew_ids, renew_fences;
        bool empty() const noexcept { return release_ids.empty() && renew_ids.empty(); }
    };
    account plan_account(const std::vector<message_id>& in_hand, std::chrono::milliseconds renewal_interval) {
        partition p = split(in_hand);
        forget(p.forget_ids);
        account a{std::move(p.drop_ids), std::move(p.drop_fences), {}, {}};
        if (!p.keep_ids.empty() && renewal_due(renewal_interval)) {
            a.renew_ids = std::move(p.keep_ids);
            a.renew_fences = std::move(p.keep_fences);
        }
        return a;
    }
    /// The account was written: the released claims leave the book, and
    /// those renewal found taken by another process are marked lost.
    void accounted(const account& a, std::vector<std::int64_t> renewed) {
        forget(a.release_ids);
        if (!a.renew_ids.empty()) this->renewed(a.renew_ids, std::move(renewed));
    }

private:
    /// The claims an end-of-pass account keeps and lets go, with their tokens.
    /// Lost claims in hand are kept but not renewed; lost claims not in hand
    /// are forgotten without a write (another process holds the lease).
    struct partition {
        std::vector<std::int64_t> keep_ids, keep_fences, drop_ids, drop_fences, forget_ids;
    };

    /// Splits the claims into those `in_hand` and the rest: one walk of both
    /// in id order, so an account costs O(n log n) however much is claimed
    /// beside what is in hand (a linear search per claim made the pass's end
    /// quadratic).
    partition split(std::vector<message_id> in_hand) const {
        std::ranges::sort(in_hand);
        partition p;
        std::lock_guard g{mutex_};
        auto hand = in_hand.begin();
        for (const auto& [id, c] : claims_) {
            while (hand != in_hand.end() && *hand < id) ++hand;
            const bool kept = hand != in_hand.end() && *hand == id;
            const auto key = static_cast<std::int64_t>(id);
            if (c.lost) {
                if (!kept) p.forget_ids.push_back(key);
            } else {
                (kept ? p.keep_ids : p.drop_ids).push_back(key);
                (kept ? p.keep_fences : p.drop_fences).push_back(c.fence);
            }
        }
        return p;
    }

    /// Whether `interval` has passed since the last claim or renewal.
    bool renewal_due(std::chrono::milliseconds interval) const {
        std::lock_guard g{mutex_};
        return clock::now() - renewed_ >= interval;
    }
    /// The kept claims were renewed; those of `kept` not in `renewed` were
    /// taken by another process meanwhile, and are marked lost.
    void renewed(const std::vector<std::int64_t>& kept, std::vector<std::int64_t> renewed) {
        std::ranges::sort(renewed);
        std::lock_guard g{mutex_};
        for (std::int64_t id : kept)
            if (!std::ranges::binary_search(renewed, id))
                if (auto it = claims_.find(message_id{static_cast<std::uint64_t>(id)}); it != claims_.end()) it->second.lost = true;
        renewed_ = clock::now();
    }

    mutable std::mutex mutex_;
    std::map<message_id, claim> claims_;
    std::vector<message_id> finished_; // in the batch under way
    clock::time_point renewed_{};
};

} // namespace spool::detail
