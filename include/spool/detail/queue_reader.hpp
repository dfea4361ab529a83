#pragma once

// The take stage's view of the store's outgoing queue: what is due, in
// submit-time order, read by the best means the store has (claims on a shared
// queue, a listing of only what is due, or the whole queue), and what that
// reading holds: the store's spooler lock and a shared queue's leases.

#include <spool/detail/queue_state.hpp>
#include <spool/message.hpp>
#include <spool/store_capabilities.hpp>

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <limits>
#include <optional>
#include <vector>

namespace spool::detail {

template <class Core>
class queue_reader {
public:
    using store_type = typename Core::store_type;
    /// Each reading asks for as many as are wanted; a whole-queue listing takes all that is due at once.
    static constexpr bool by_demand = SharedQueueStore<store_type> || DueListingStore<store_type>;
    /// A listing brings back, beside what was wanted, what the pass holds or
    /// passes over; the taker stops at what it wanted.
    static constexpr bool lists_beyond_want = DueListingStore<store_type> && !SharedQueueStore<store_type>;

    explicit queue_reader(Core& core) : core_(core) {}

    /// How many a claim asks for when `want` are wanted: no fewer than the
    /// store's floor, where it names one (a claim that is a durable write).
    std::size_t claim_size(std::size_t want) const {
        if constexpr (ClaimFloorStore<store_type>) return std::max<std::size_t>(want, core_.store().claim_floor());
        else return want;
    }

    /// Takes the store's spooler lock, where it has one, if not yet held.
    /// Throws std::system_error (errc::spool_in_use) while another spooler holds it.
    void claim_store() {
        if constexpr (SingleSpoolerStore<store_type>)
            if (!store_lock_) store_lock_.emplace(core_.store().lock_spooler());
    }

    /// A new pass reads the queue from its start.
    void begin() {
        previous_.clear();
        read_whole_ = false;
    }

    /// The next entries due, for `want` more messages beside the `in_hand`
    /// the pass holds; empty when nothing more is due (or, on a shared queue,
    /// a claim brought back what the last one did: leases that could not be
    /// written, or expired meanwhile, would go round forever).
    const std::vector<queue_entry>& next(std::size_t want, std::size_t in_hand) {
        entries_.clear();
        if constexpr (SharedQueueStore<store_type>) {
            for (const queue_entry& e : core_.store().claim_due(core_.now(), claim_size(want))) entries_.push_back(e);
            if (!entries_.empty() && std::ranges::find(previous_, entries_.front().id) != previous_.end()) entries_.clear();
            previous_.clear();
            for (const queue_entry& e : entries_) previous_.push_back(e.id);
            more_ = !entries_.empty();
        } else if constexpr (DueListingStore<store_type>) {
            // As many as are wanted beside those the store lists and the pass
            // passes over: in hand, or waiting in memory for a later attempt.
            std::size_t waits = 0;
            {
                auto g = core_.queue().guard();
                waits = core_.queue().waits();
            }
            const std::size_t limit = want + in_hand + waits;
            entries_ = core_.store().due_queue(core_.now(), limit);
            more_ = entries_.size() >= limit; // cut short by the limit: more may be behind it
        } else {
            // Read once a pass: reading it on every completion would cost more than holding it.
            if (!std::exchange(read_whole_, true)) entries_ = core_.store().outgoing_queue();
            more_ = false;
        }
        return entries_;
    }

    /// Whether the last reading may have left due messages behind.
    bool more_behind() const noexcept { return more_; }

    /// A shared queue's leases are renewed at the end of each pass, and within
    /// a long one (slow synchronous hand-offs) once a renewal is due: what is
    /// in hand and the entries of the last reading from `next` on are kept,
    /// the rest released.
    template <class InHand>
    void keep_leases(InHand&& in_hand, std::size_t next) {
        if constexpr (SharedQueueStore<store_type>) {
            const auto now = std::chrono::steady_clock::now();
            if (now < next_renewal_) return;
            next_renewal_ = now + core_.store().lease_renewal_interval();
            std::vector<message_id> keep = in_hand();
            for (std::size_t i = next; i < entries_.size(); ++i) keep.push_back(entries_[i].id);
            core_.store().retain_leases(keep);
        }
    }

private:
    Core& core_;
    std::vector<queue_entry> entries_; // the last reading
    std::vector<message_id> previous_; // a shared queue's last claim
    bool more_ = false;
    bool read_whole_ = false;
    std::chrono::steady_clock::time_point next_renewal_{}; // of a shared queue's leases, within a pass
    std::optional<spooler_lock_of<store_type>> store_lock_; // held from the first run for the spooler's life
};

} // namespace spool::detail
