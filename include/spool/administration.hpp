#pragma once

// Queue administration: what a mail administrator does to a queue while
// spoolers run (Postfix's postqueue and postsuper, Exim's -bp and -M*). A store
// that offers it is an AdministeredStore; spoolctl drives one from the command
// line. docs/administration.md has the rules, docs/state-machine.md the Held state.

#include <spool/action_log.hpp>
#include <spool/error.hpp>
#include <spool/message.hpp>
#include <spool/result.hpp>
#include <spool/store_capabilities.hpp>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace spool {

/// Where a queued message stands, as an administrator sees it.
enum class queue_state : std::uint8_t {
    due,      ///< waiting for the spooler's next pass
    deferred, ///< waiting for its next attempt (RetryWait)
    held,     ///< on hold: not attempted until released
    in_hand,  ///< a spooler has it leased: a hand-off may be running now
    waiting,  ///< waiting for a destination that is down (waiting_for), until next_attempt; not an attempt
};

constexpr std::string_view to_string(queue_state s) noexcept {
    switch (s) {
    case queue_state::due: return "due";
    case queue_state::deferred: return "deferred";
    case queue_state::held: return "held";
    case queue_state::in_hand: return "in_hand";
    case queue_state::waiting: return "waiting";
    }
    return "unknown";
}

constexpr std::string_view to_string(admin_request r) noexcept {
    switch (r) {
    case admin_request::none: return "none";
    case admin_request::flush: return "flush";
    case admin_request::expire: return "expire";
    case admin_request::remove_with_report: return "delete_with_report";
    case admin_request::remove: return "delete";
    }
    return "unknown";
}

/// Which queued messages a listing shows. Every part left empty matches all.
struct queue_filter {
    std::optional<queue_state> state;
    /// A recipient at this domain (the part after the last '@', without case) not yet settled.
    std::string domain;
    /// Submitted at least this long before the listing's `now`.
    std::optional<std::chrono::seconds> older_than;
};

/// One queued message as a listing shows it: what the queue row says, and
/// the message when it could be decoded. A message that cannot be (a newer
/// format, another payload type, damage) is shown with why, and left as it is:
/// a listing never moves, rewrites or quarantines anything.
template <class Message>
struct basic_queued_message {
    message_id id{};
    time_point submit_time{};
    std::size_t size = 0; ///< of the stored message, in bytes
    queue_state state = queue_state::due;
    bool held = false;
    std::optional<time_point> held_since;
    std::chrono::nanoseconds held_for{}; ///< earlier holds, released
    admin_request request = admin_request::none;
    time_point next_attempt{}; ///< as last written; the epoch when due at once
    /// Who has it leased (the store's owner name), when state is in_hand.
    std::string lease_owner;
    /// The destination that is down it waits for, when state is waiting (as the transport names it).
    std::string waiting_for;
    result<Message> message{errc::corrupt_message};
};

/// How many queued messages are in each state (in_hand counts the leased
/// ones, held or not; `requested` those with a request waiting for a spooler).
struct queue_counts {
    std::size_t total = 0;
    std::size_t due = 0;
    std::size_t deferred = 0;
    std::size_t held = 0;
    std::size_t in_hand = 0;
    std::size_t requested = 0;
    std::size_t waiting = 0; ///< for a destination that is down (counted apart from deferred)
    friend bool operator==(const queue_counts&, const queue_counts&) = default;
};

/// What an operation did: applied in the store now, or recorded on the
/// message for a spooler to apply at its next pass over it (after a hand-off
/// running now has ended).
enum class admin_outcome : std::uint8_t { applied, requested };

constexpr std::string_view to_string(admin_outcome o) noexcept {
    return o == admin_outcome::applied ? "applied" : "requested";
}

/// **AdministeredStore**: a Store whose queue an administrator can look into
/// and change while spoolers run, in this process or others
/// (docs/concepts/store.md, "Administration"; laws H1–H7).
///
/// Requirements (with `M = S::message_type`; every id is of a queued message,
/// else errc::not_found for an unknown id and errc::not_in_queue for one not queued):
///   - `list_queue(const queue_filter&, time_point now, message_id after, std::size_t limit) const`:
///     up to `limit` matching messages with ids above `after`, in id order, as
///     a range of `basic_queued_message<M>`; a page costs what it returns, not the queue.
///   - `result<basic_queued_message<M>> inspect(message_id, time_point now) const`
///   - `queue_counts count_queue(time_point now) const`
///   - `result<admin_outcome> hold(message_id, time_point now)`, `release(message_id, time_point now)`
///   - `result<admin_outcome> request(message_id, admin_request)`
template <class S>
concept AdministeredStore =
    requires(S& s, const S& cs, const queue_filter& f, time_point now, message_id id, std::size_t limit, admin_request r) {
        typename S::message_type;
        { cs.list_queue(f, now, id, limit) } -> std::same_as<std::vector<basic_queued_message<typename S::message_type>>>;
        { cs.inspect(id, now) } -> std::same_as<result<basic_queued_message<typename S::message_type>>>;
        { cs.count_queue(now) } -> std::same_as<queue_counts>;
        { s.hold(id, now) } -> std::same_as<result<admin_outcome>>;
        { s.release(id, now) } -> std::same_as<result<admin_outcome>>;
        { s.request(id, r) } -> std::same_as<result<admin_outcome>>;
    };

/// The domain of an address: after its last '@', in lower case (ASCII); empty without one.
inline std::string address_domain(std::string_view address) {
    const auto at = address.rfind('@');
    std::string out;
    if (at == std::string_view::npos) return out;
    for (char c : address.substr(at + 1)) out += detail::fold_case(c);
    return out;
}

/// Writes `entry` to the store's action log, and forgets the entries logged
/// more than `retention` before it (zero: keeps every entry). The dashboard
/// and spoolctl log each action through it.
template <ActionLogStore S>
std::error_code record_action(S& store, const logged_action& entry, std::chrono::seconds retention = default_action_log_retention) {
    if (auto ec = store.log_action(entry)) return ec;
    if (retention.count() > 0)
        if (auto forgotten = store.forget_actions(entry.at - retention); !forgotten) return forgotten.error();
    return {};
}

/// How an action log entry names the messages it applied to: "message 7",
/// "messages 3, 4, 9", or the first ten and how many more.
inline std::string logged_ids(std::span<const message_id> ids) {
    std::string out = ids.size() == 1 ? "message " : "messages ";
    for (std::size_t i = 0; i < ids.size() && i < 10; ++i) out += (i ? ", " : "") + std::to_string(static_cast<std::uint64_t>(ids[i]));
    if (ids.size() > 10) out += " and " + std::to_string(ids.size() - 10) + " more";
    return out;
}

namespace detail {
// Whether a decoded message has an unsettled recipient at `domain` (already folded).
template <class Message>
bool has_open_recipient_at(const Message& m, std::string_view domain) {
    for (const recipient& r : m.recipients)
        if (!r.settled() && !r.responsibility && address_domain(r.address) == domain) return true;
    return false;
}

// The state a listing shows, from the row: a lease beats a hold, a hold beats the schedule.
inline spool::queue_state state_of(bool leased, bool held, bool waiting, time_point next_attempt, time_point now) noexcept {
    if (leased) return spool::queue_state::in_hand;
    if (held) return spool::queue_state::held;
    if (next_attempt <= now) return spool::queue_state::due;
    return waiting ? spool::queue_state::waiting : spool::queue_state::deferred;
}
} // namespace detail

} // namespace spool
