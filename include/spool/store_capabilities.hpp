#pragma once

// What a Store may offer besides the Store concept. The spooler finds each at
// compile time, uses it only where the store has it, and instantiates nothing
// for it elsewhere. docs/concepts/store.md gives each one's laws, and
// spool::testing checks them (store_conformance.hpp). AdministeredStore, the
// queue an administrator works, is in administration.hpp.

#include <spool/action_log.hpp>
#include <spool/detail/requirements.hpp>
#include <spool/message.hpp>
#include <spool/result.hpp>
#include <spool/returned_report.hpp>
#include <spool/suppression.hpp>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace spool {

/// **SingleSpoolerStore**: only one spooler may work the store at a time,
/// across processes. `lock_spooler() const` returns a lock the spooler holds
/// for its life, and throws std::system_error (errc::spool_in_use, naming the
/// holder) while another spooler holds it. Checked by testing::check_spooler_lock.
template <class S>
concept SingleSpoolerStore = requires(const S& store) { store.lock_spooler(); };

/// **CrossProcessWakeStore**: the store tells that another process (or
/// another store object on the same data) wrote to it, with
/// `bool written_elsewhere() const`, true once per batch of such writes. A
/// client in another process cannot wake the spooler, so the idle spooler
/// asks. Checked by testing::check_cross_process_wake.
template <class S>
concept CrossProcessWakeStore = requires(const S& store) {
    { store.written_elsewhere() } -> std::same_as<bool>;
};

/// **BatchingStore**: several operations can be made one commit, with
/// `std::error_code batch(F f)`: f's operations all happen, or, when the
/// commit fails, none. The spooler writes a pass's outcomes together;
/// client::batch uses it. Checked by testing::check_batch.
template <class S>
concept BatchingStore = requires(S& store, void (&f)()) {
    { store.batch(f) } -> std::same_as<std::error_code>;
};

/// **QueuedCreateStore**: `result<message_id> create_queued(folder_id, const M&)`
/// creates a submitted message and queues it in one durable step
/// (client::send). Checked by testing::check_create_queued.
template <class S>
concept QueuedCreateStore = detail::store_creates_queued<S>;

/// **BulkQueuedCreateStore**: `result<std::vector<message_id>>
/// create_queued(folder_id, std::span<const M>)` creates many submitted
/// messages queued, in one durable step: all of them, or on an error none;
/// their ids are new, distinct and in the given order, and messages with the
/// same submit time are queued in that order. An empty span creates nothing.
/// client::send_all uses it (else it sends one by one in one batch). Laws
/// K1-K3, checked by testing::check_bulk_create_queued.
template <class S>
concept BulkQueuedCreateStore = QueuedCreateStore<S> && requires(S& s, folder_id f, std::span<const typename S::message_type> ms) {
    { s.create_queued(f, ms) } -> std::same_as<result<std::vector<message_id>>>;
};

/// One message a bulk finish takes: its id and its final state, as finish() takes them.
template <class M>
struct finishing {
    message_id id{};
    const M* message = nullptr;
};

/// **BulkFinishStore**: `std::vector<std::error_code>
/// finish(std::span<const finishing<M>>)` finishes many messages in one
/// request: each is applied, or refused, exactly as finish(id, m) alone
/// would be (errc::not_found, not_in_queue, lease_lost), and its error is at
/// its place in the result; an empty span does nothing. The spooler writes a
/// pass's finished messages with it, inside batch(). Laws F1-F2, checked by
/// testing::check_bulk_finish.
template <class S>
concept BulkFinishStore = requires(S& s, std::span<const finishing<typename S::message_type>> fs) {
    { s.finish(fs) } -> std::same_as<std::vector<std::error_code>>;
};

/// **DueListingStore**: `due_queue(time_point now, std::size_t limit) const`
/// lists only the queued messages that are due (whose next_attempt(m), as
/// last written, is at or before now), in submit-time order, at most limit,
/// through an index on the next attempt. A pass then costs what is due, not
/// what is queued; without it a pass reads the whole queue. Laws D1–D3,
/// checked by testing::check_due_queue.
template <class S>
concept DueListingStore = requires(const S& store, time_point now, std::size_t limit) {
    { store.due_queue(now, limit) } -> detail::range_of<queue_entry>;
};

/// **SharedQueueStore**: several spoolers, in several processes, share the
/// queue. The spooler claims due messages (`claim_due(now, limit)`: leased
/// to this store object and fenced) instead of listing them; at the end of
/// each pass it names those it still has in hand (`retain_leases(ids)`: the
/// rest are released, these renewed when a renewal is due), and while
/// hand-offs run it wakes at least every `lease_renewal_interval()` to do so.
/// Clients ask `leased_elsewhere(id)`. Laws Q1–Q5, checked by
/// testing::check_shared_queue. A store that shares its queue only when so
/// configured says so with `bool shares_queue() const` (the SQLite store's
/// shared_queue option); otherwise a SharedQueueStore is taken to share it.
template <class S>
concept SharedQueueStore = requires(S& store, const S& cstore, time_point now, std::size_t limit,
                                    const std::vector<message_id>& in_hand, message_id id) {
    { store.claim_due(now, limit) } -> detail::range_of<queue_entry>;
    { store.retain_leases(in_hand) } -> std::same_as<std::error_code>;
    { cstore.lease_renewal_interval() } -> std::convertible_to<std::chrono::milliseconds>;
    { cstore.leased_elsewhere(id) } -> std::same_as<bool>;
};

/// **MessageClaimStore**: a SharedQueueStore that claims one named queued
/// message, to change it outside a hand-off (a report mailed back about it,
/// docs/returned-reports.md) without another process's copy overwriting the
/// change or being overwritten by it:
///   - `result<bool> claim(message_id)`: true when it leased the message to
///     this store object with a new fencing token, as claim_due does; false,
///     changing nothing, while a live lease holds it (this object's own
///     claims too); errc::not_in_queue, or not_found for an unknown id;
///   - `std::error_code release_claim(message_id)`: ends that claim, so the
///     message is claimable at once; nothing when this object holds none.
/// Laws C1–C3, checked by testing::check_message_claim.
template <class S>
concept MessageClaimStore = SharedQueueStore<S> && requires(S& store, message_id id) {
    { store.claim(id) } -> std::same_as<result<bool>>;
    { store.release_claim(id) } -> std::same_as<std::error_code>;
};

/// One returned report a ReportBacklogStore keeps, and its key there.
struct kept_report {
    std::int64_t key = 0;
    returned_report report;
};

/// **ReportBacklogStore**: keeps the returned reports that could not be
/// applied when they came (their original was in a hand-off), for a spooler
/// to apply later, durably and shared by every spooler on the store:
///   - `std::error_code keep_returned(const returned_report&)`;
///   - `result<std::vector<kept_report>> returned_backlog(std::size_t limit) const`:
///     up to `limit` of them, oldest first, each as it was kept;
///   - `std::error_code forget_returned(std::int64_t key)`: removes one;
///     nothing when it is gone already.
/// Laws R1–R2, checked by testing::check_report_backlog.
template <class S>
concept ReportBacklogStore = requires(S& s, const S& c, const returned_report& r, std::size_t limit, std::int64_t key) {
    { s.keep_returned(r) } -> std::same_as<std::error_code>;
    { c.returned_backlog(limit) } -> std::same_as<result<std::vector<kept_report>>>;
    { s.forget_returned(key) } -> std::same_as<std::error_code>;
};

/// **ActionLogStore**: keeps the action log (docs/web.md, "The action log"),
/// durably and shared by every process on the store's data:
///   - `std::error_code log_action(const logged_action&)`: adds the entry
///     (its `key` is ignored: the store gives one, higher than any before);
///   - `result<std::vector<logged_action>> action_log(std::int64_t before,
///     std::size_t limit) const`: up to `limit` entries with keys below
///     `before` (0: from the newest), newest first;
///   - `result<std::size_t> forget_actions(time_point before)`: removes the
///     entries logged before `before`, and says how many.
/// Laws A1–A3, checked by testing::check_action_log.
template <class S>
concept ActionLogStore = requires(S& s, const S& c, const logged_action& a, std::int64_t key, std::size_t limit, time_point t) {
    { s.log_action(a) } -> std::same_as<std::error_code>;
    { c.action_log(key, limit) } -> std::same_as<result<std::vector<logged_action>>>;
    { s.forget_actions(t) } -> std::same_as<result<std::size_t>>;
};

/// **ClaimFloorStore**: a SharedQueueStore whose claim is a durable write (a
/// transaction and a commit) names the fewest messages worth one,
/// `std::size_t claim_floor() const`. The spooler then claims no fewer, and
/// what it claims beyond what its transports can take at once waits in
/// memory, leased and renewed.
template <class S>
concept ClaimFloorStore = SharedQueueStore<S> && requires(const S& store) {
    { store.claim_floor() } -> std::convertible_to<std::size_t>;
};

/// **HoldBackStore**: the messages that wait for a destination that is down
/// stay out of the due listing and the claims. `hold_back(ids, destination,
/// until)` writes, on the queue rows only, that each waits for `destination`
/// until `until` (not an attempt: the messages are not rewritten; a hold or a
/// request on a row wins); `release_held_back(destination)` makes every
/// message waiting for it due at once. Without it, the spooler keeps such
/// messages waiting in memory only, and each pass lists them again. Laws
/// W1–W5, checked by testing::check_hold_back.
template <class S>
concept HoldBackStore = requires(S& store, const std::vector<message_id>& ids, const std::string& destination, time_point until) {
    { store.hold_back(ids, destination, until) } -> std::same_as<std::error_code>;
    { store.release_held_back(destination) } -> std::same_as<std::error_code>;
};

/// **SuppressionListStore**: the store keeps a suppression list
/// (docs/suppression.md), shared by every spooler and client on its data.
/// Addresses are keys as suppression_key() writes them, compared exactly:
///   - `std::error_code suppress(const suppression_entry&)`: adds the entry,
///     or replaces the one for its address;
///   - `result<std::optional<suppression_entry>> find_suppression(std::string_view
///     key, time_point now) const`: the entry, unless it has expired by `now`;
///     one indexed read, however long the list;
///   - `std::error_code unsuppress(std::string_view key)`: removes it;
///     errc::not_found when there is none;
///   - `result<std::vector<suppression_entry>> list_suppressions(std::string_view
///     after, std::size_t limit, time_point now) const`: up to `limit` entries
///     with keys above `after`, in key order, expired ones left out;
///   - `result<std::size_t> count_suppressions(time_point now) const`.
/// Laws S1-S5, checked by testing::check_suppression_list.
template <class S>
concept SuppressionListStore = requires(S& s, const S& c, const suppression_entry& e, std::string_view key, time_point now,
                                        std::size_t limit) {
    { s.suppress(e) } -> std::same_as<std::error_code>;
    { c.find_suppression(key, now) } -> std::same_as<result<std::optional<suppression_entry>>>;
    { s.unsuppress(key) } -> std::same_as<std::error_code>;
    { c.list_suppressions(key, limit, now) } -> std::same_as<result<std::vector<suppression_entry>>>;
    { c.count_suppressions(now) } -> std::same_as<result<std::size_t>>;
};

namespace detail {
template <class Store>
struct spooler_lock_type {
    using type = std::monostate;
};
template <SingleSpoolerStore Store>
struct spooler_lock_type<Store> {
    using type = decltype(std::declval<const Store&>().lock_spooler());
};
/// What the spooler holds for its life: the store's lock, or nothing.
template <class Store>
using spooler_lock_of = typename spooler_lock_type<Store>::type;
} // namespace detail

} // namespace spool
