#pragma once

// What a store may offer besides the Store concept, found at compile time: the
// spooler uses a capability only where the store has it, and instantiates
// nothing for it elsewhere. (batch(), the shared commit, is in one_commit.hpp.)

#include <spool/detail/requirements.hpp>
#include <spool/message.hpp>

#include <concepts>
#include <cstddef>
#include <type_traits>
#include <utility>
#include <variant>

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

} // namespace spool::detail
