#pragma once

#include <spool/error.hpp>
#include <spool/message.hpp>
#include <spool/result.hpp>
#include <spool/tags.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

namespace spool {

/// A mutex that does nothing, for a store used from one thread only.
struct null_mutex {
    void lock() noexcept {}
    void unlock() noexcept {}
    bool try_lock() noexcept { return true; }
};

/// A Store that keeps everything in memory: folders (inbox, outbox, sent items
/// and any user folder) and the outgoing queue. Copies share one store, so a
/// store can outlive a spooler and serve the next one, as a database would.
/// `Mutex` guards it; use null_mutex (memory_store_st) when one thread is enough.
template <class Payload = mail_payload, class Mutex = std::mutex>
class basic_memory_store {
public:
    using spool_concept = store_tag;
    using message_type = basic_message<Payload>;

    basic_memory_store() : state_(std::make_shared<state>()) {}

    result<message_id> create(folder_id folder, const message_type& m) {
        std::lock_guard g{state_->mutex};
        return insert(folder, m).message.id;
    }

    /// create() and enqueue() in one step: a message that is queued from the start.
    result<message_id> create_queued(folder_id folder, const message_type& m) {
        std::lock_guard g{state_->mutex};
        entry& e = insert(folder, m);
        queue(e, m);
        return e.message.id;
    }

    result<message_type> load(message_id id) const {
        std::lock_guard g{state_->mutex};
        auto it = state_->messages.find(id);
        if (it == state_->messages.end()) return errc::not_found;
        return it->second.message;
    }

    std::error_code save(message_id id, const message_type& m) {
        return update(id, [&](entry& e) -> std::error_code {
            write(e, id, m);
            return {};
        });
    }

    std::error_code enqueue(message_id id, const message_type& m) {
        return update(id, [&](entry& e) -> std::error_code {
            if (e.queued) return errc::already_submitted;
            write(e, id, m);
            queue(e, m);
            return {};
        });
    }

    std::error_code abort_submit(message_id id, const message_type& m) {
        return update(id, [&](entry& e) -> std::error_code {
            if (!e.queued) return errc::not_in_queue;
            dequeue(e);
            write(e, id, m);
            return {};
        });
    }

    std::error_code finish(message_id id, const message_type& m) {
        return update(id, [&](entry& e) -> std::error_code {
            if (!e.queued) return errc::not_in_queue;
            dequeue(e);
            if (std::holds_alternative<disposition::delete_after_submit>(m.sent_mail)) {
                state_->folders[e.folder].erase(id);
                state_->messages.erase(id);
                return {};
            }
            write(e, id, m);
            if (const auto* move = std::get_if<disposition::move_to>(&m.sent_mail)) {
                state_->folders[e.folder].erase(id);
                e.folder = move->folder;
                state_->folders[move->folder].insert(id);
            }
            return {};
        });
    }

    /// The outgoing queue, ascending client submit time, ties in submit order.
    std::vector<queue_entry> outgoing_queue() const {
        std::lock_guard g{state_->mutex};
        std::vector<queue_entry> out;
        out.reserve(state_->queue.size());
        for (const auto& [key, id] : state_->queue)
            out.push_back({id, key.first, state_->messages.at(id).message.submission});
        return out;
    }

    /// The queued messages whose next attempt (spool::next_attempt, or the
    /// time a hold_back set) is at or before `now`, in queue order, at most
    /// `limit`: a pass reads what is due, not the whole queue.
    std::vector<queue_entry> due_queue(time_point now, std::size_t limit) const {
        std::lock_guard g{state_->mutex};
        std::vector<queue_entry> out;
        auto entry_at = [&](const queue_position& key, message_id id) {
            out.push_back({id, key.first, state_->messages.at(id).message.submission});
        };
        if (state_->due.empty()) return out;
        if (state_->due.rbegin()->first <= now) {
            // Everything is due, as in a spooler that keeps up: the queue is
            // already in queue order, so nothing is sorted or looked up twice
            // (that cost a quarter of a pass per message, benchmarks/instruction_counts).
            for (auto it = state_->queue.begin(); it != state_->queue.end() && out.size() < limit; ++it) entry_at(it->first, it->second);
            return out;
        }
        std::vector<queue_position> due;
        for (auto it = state_->due.begin(); it != state_->due.end() && it->first <= now; ++it) due.push_back(it->second);
        const auto end = due.begin() + static_cast<std::ptrdiff_t>(std::min(limit, due.size()));
        std::partial_sort(due.begin(), end, due.end());
        for (auto it = due.begin(); it != end; ++it) entry_at(*it, state_->queue.at(*it));
        return out;
    }

    /// The messages `ids` wait for `destination`, which is down, until
    /// `until`: they are not due before then (not an attempt: the messages are
    /// not rewritten). docs/concepts/store.md, "Waiting for a destination".
    std::error_code hold_back(const std::vector<message_id>& ids, const std::string& destination, time_point until) {
        std::lock_guard g{state_->mutex};
        for (message_id id : ids)
            if (auto it = state_->messages.find(id); it != state_->messages.end() && it->second.queued) {
                schedule(it->second, until);
                it->second.waiting_for = destination;
            }
        return {};
    }
    /// Every message waiting for `destination` is due at once.
    std::error_code release_held_back(const std::string& destination) {
        std::lock_guard g{state_->mutex};
        for (auto& [id, e] : state_->messages)
            if (e.queued && e.waiting_for == destination) {
                e.waiting_for.clear();
                schedule(e, time_point{});
            }
        return {};
    }

    /// The messages in a folder, in creation order.
    std::vector<message_id> contents(folder_id folder) const {
        std::lock_guard g{state_->mutex};
        auto it = state_->folders.find(folder);
        if (it == state_->folders.end()) return {};
        return {it->second.begin(), it->second.end()};
    }

private:
    using queue_position = std::pair<time_point, std::uint64_t>;

    struct entry {
        message_type message;
        folder_id folder{};
        bool queued = false;
        queue_position queue_key{};
        time_point next_attempt{}; // as last written, or held back to
        std::string waiting_for;   // the destination that is down it waits for
    };

    struct state {
        mutable Mutex mutex;
        std::uint64_t last_id = 0;
        std::uint64_t last_sequence = 0;
        std::map<message_id, entry> messages;
        std::map<folder_id, std::set<message_id>> folders;
        std::map<queue_position, message_id> queue;
        std::set<std::pair<time_point, queue_position>> due; // the queue by next attempt
    };

    // Every change to an existing message: under the lock, not_found for an unknown id.
    template <class F>
    std::error_code update(message_id id, F&& change) {
        std::lock_guard g{state_->mutex};
        auto it = state_->messages.find(id);
        if (it == state_->messages.end()) return errc::not_found;
        return change(it->second);
    }

    void write(entry& e, message_id id, const message_type& m) {
        e.message = m;
        e.message.id = id;
        // The lock is the spooler's, in memory; a store never keeps it.
        e.message.submission = e.message.submission & ~submit_flags::locked;
        e.waiting_for.clear(); // any write ends a wait for a destination
        if (e.queued) schedule(e, next_attempt(e.message));
    }
    void schedule(entry& e, time_point at) {
        state_->due.erase({e.next_attempt, e.queue_key});
        e.next_attempt = at;
        state_->due.insert({at, e.queue_key});
    }

    entry& insert(folder_id folder, const message_type& m) {
        const message_id id{++state_->last_id};
        auto& e = state_->messages[id];
        write(e, id, m);
        e.folder = folder;
        state_->folders[folder].insert(id);
        return e;
    }

    void queue(entry& e, const message_type& m) {
        e.queue_key = {m.client_submit_time.value_or(time_point{}), ++state_->last_sequence};
        e.queued = true;
        state_->queue.emplace(e.queue_key, e.message.id);
        e.next_attempt = next_attempt(e.message);
        state_->due.insert({e.next_attempt, e.queue_key});
    }

    void dequeue(entry& e) {
        state_->queue.erase(e.queue_key);
        state_->due.erase({e.next_attempt, e.queue_key});
        e.waiting_for.clear();
        e.queued = false;
    }

    std::shared_ptr<state> state_;
};

using memory_store = basic_memory_store<>;
using memory_store_st = basic_memory_store<mail_payload, null_mutex>;

} // namespace spool
