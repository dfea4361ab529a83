#pragma once

// What a store may offer besides the Store concept, found at compile time: the
// spooler uses a capability only where the store has it, and instantiates
// nothing for it elsewhere. (batch(), the shared commit, is in one_commit.hpp.)

#include <spool/detail/requirements.hpp>
#include <spool/message.hpp>

#include <chrono>
#include <concepts>
#include <system_error>
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace spool::detail {

/// Whether only one spooler may work the store at a time, across processes: it
/// has `lock_spooler()`, whose result the spooler holds for its life, and which
/// throws std::system_error (errc::spool_in_use) while another spooler holds it.
template <class Store>
concept locks_spooler = requires(const Store& store) { store.lock_spooler(); };

template <class Store>
struct spooler_lock_type {
    using type = std::monostate;
};
template <locks_spooler Store>
struct spooler_lock_type<Store> {
    using type = decltype(std::declval<const Store&>().lock_spooler());
};
/// What the spooler holds for its life: the store's lock, or nothing.
template <class Store>
using spooler_lock_of = typename spooler_lock_type<Store>::type;

/// Whether the store can tell that another process wrote to it
/// (`bool written_elsewhere()`): the spooler asks while idle, since a client
/// in another process cannot wake it.
template <class Store>
concept sees_other_writers = requires(const Store& store) {
    { store.written_elsewhere() } -> std::same_as<bool>;
};

/// Whether the store lists only the queued messages that are due
/// (`due_queue(time_point now, std::size_t limit) const`: those whose
/// spool::next_attempt(m), as last written, is at or before now, in submit-time
/// order, at most limit), through an index on the next attempt. A pass then
/// costs what is due, not what is queued; without it a pass reads the whole queue.
template <class Store>
concept lists_due = requires(const Store& store, time_point now, std::size_t limit) {
    { store.due_queue(now, limit) } -> range_of<queue_entry>;
};

/// Whether several spoolers, in several processes, share the store's queue
/// (docs/concepts/store.md, "A shared queue"). The spooler then claims the due
/// messages (`claim_due(now, limit)`: leased to this store object and fenced)
/// instead of listing them; at the end of each pass it names those it still
/// has in hand (`retain_leases(ids)`: the rest are released, these renewed
/// when a renewal is due), and while hand-offs run it wakes at least every
/// `lease_renewal_interval()` to do so. Clients ask `leased_elsewhere(id)`.
template <class Store>
concept shares_queue = requires(Store& store, const Store& cstore, time_point now, std::size_t limit,
                                const std::vector<message_id>& in_hand, message_id id) {
    { store.claim_due(now, limit) } -> range_of<queue_entry>;
    { store.retain_leases(in_hand) } -> std::same_as<std::error_code>;
    { cstore.lease_renewal_interval() } -> std::convertible_to<std::chrono::milliseconds>;
    { cstore.leased_elsewhere(id) } -> std::same_as<bool>;
};

/// Whether the store can keep the messages that wait for a destination that
/// is down out of its due listing and claims (docs/concepts/store.md,
/// "Waiting for a destination"): `hold_back(ids, destination, until)` writes,
/// on the queue rows only, that each waits for `destination` until `until`
/// (not an attempt: the messages are not rewritten; a hold or a request on
/// a row wins); `release_held_back(destination)` makes every message waiting
/// for it due at once. Without it, the spooler keeps such messages waiting in
/// memory only, and each pass lists them again.
template <class Store>
concept holds_back = requires(Store& store, const std::vector<message_id>& ids, const std::string& destination, time_point until) {
    { store.hold_back(ids, destination, until) } -> std::same_as<std::error_code>;
    { store.release_held_back(destination) } -> std::same_as<std::error_code>;
};

} // namespace spool::detail
