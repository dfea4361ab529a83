#pragma once

// Every statement the SQLite store runs, by name, in one table. The queue
// row's state and SQLite's clock are each written once, below, and used by
// name; the statements are string literals, which the statement cache keys
// by address.

#include <string_view>

namespace spool::detail::sqlite::sql {

// The database's clock in ms since the epoch, as leases are written.
#define SPOOL_SQLITE_NOW_MS "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
// A lease that has not expired: a spooler has the message in hand.
#define SPOOL_SQLITE_LEASED "coalesce(lease_until > " SPOOL_SQLITE_NOW_MS ", 0)"
// The queue row's state (spool::queue_state's values) at ?1, the caller's now.
#define SPOOL_SQLITE_STATE                                                                                                  \
    "CASE WHEN " SPOOL_SQLITE_LEASED " THEN 3 WHEN held_since IS NOT NULL THEN 2 WHEN next_attempt <= ?1 THEN 0"           \
    " WHEN waiting_for IS NOT NULL THEN 4 ELSE 1 END"
// A request that ends a hold and is due at once: expire, remove_with_report, remove.
#define SPOOL_SQLITE_ENDS_HOLD(r) "(" r " >= 2)"

inline constexpr std::string_view load = "SELECT body FROM messages WHERE id = ?";
inline constexpr std::string_view message_exists = "SELECT 1 FROM messages WHERE id = ?";
inline constexpr std::string_view insert_message = "INSERT INTO messages (folder, body) VALUES (?, ?)";
inline constexpr std::string_view update_body = "UPDATE messages SET body = ? WHERE id = ?";
inline constexpr std::string_view move_message = "UPDATE messages SET folder = ? WHERE id = ?";
inline constexpr std::string_view delete_message = "DELETE FROM messages WHERE id = ?";
inline constexpr std::string_view contents = "SELECT id FROM messages WHERE folder = ? ORDER BY id";

// The queue. A new row comes after every row queued before it.
inline constexpr std::string_view enqueue =
    "INSERT INTO outgoing_queue (message_id, submit_time, sequence, submit_flags, next_attempt)"
    " VALUES (?, ?, (SELECT COALESCE(MAX(sequence), 0) + 1 FROM outgoing_queue), ?, ?)";
inline constexpr std::string_view dequeue = "DELETE FROM outgoing_queue WHERE message_id = ?";
inline constexpr std::string_view queued = "SELECT 1 FROM outgoing_queue WHERE message_id = ?";
// A save by a spooler. A hold or a request made while the message was in hand
// outlives it: it is applied at the message's next pass. A flush is met by the
// pass that saves. ?1 the next attempt, ?2 the id, ?3 a held row's next attempt.
inline constexpr std::string_view save_queued =
    "UPDATE outgoing_queue SET next_attempt = CASE WHEN held_since IS NOT NULL THEN ?3"
    " WHEN " SPOOL_SQLITE_ENDS_HOLD("request") " THEN 0 ELSE ?1 END, request = CASE WHEN request = 1 THEN 0 ELSE request END,"
    " waiting_for = NULL WHERE message_id = ?2";

// The suppression list. ?1 the key; expires ?2 is compared with the caller's now.
#define SPOOL_SQLITE_SUPPRESSION "SELECT address, reason, diagnostic, added, expires, source FROM suppressions"
inline constexpr std::string_view suppress =
    "INSERT INTO suppressions (address, reason, diagnostic, added, expires, source) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    " ON CONFLICT (address) DO UPDATE SET reason = ?2, diagnostic = ?3, added = ?4, expires = ?5, source = ?6";
inline constexpr std::string_view find_suppression = SPOOL_SQLITE_SUPPRESSION " WHERE address = ?1 AND expires > ?2";
inline constexpr std::string_view unsuppress = "DELETE FROM suppressions WHERE address = ?1";
inline constexpr std::string_view list_suppressions =
    SPOOL_SQLITE_SUPPRESSION " WHERE address > ?1 AND expires > ?2 ORDER BY address LIMIT ?3";
inline constexpr std::string_view count_suppressions = "SELECT count(*) FROM suppressions WHERE expires > ?1";
// Returned reports kept for later, oldest first.
inline constexpr std::string_view keep_returned = "INSERT INTO returned_backlog (original, reporting_mta, recipients) VALUES (?, ?, ?)";
inline constexpr std::string_view returned_backlog =
    "SELECT key, original, reporting_mta, recipients FROM returned_backlog ORDER BY key LIMIT ?";
inline constexpr std::string_view forget_returned = "DELETE FROM returned_backlog WHERE key = ?";
// The action log, newest first, below key ?1.
inline constexpr std::string_view log_action =
    "INSERT INTO action_log (at, who, action, target, done, refused, skipped) VALUES (?, ?, ?, ?, ?, ?, ?)";
inline constexpr std::string_view action_log = "SELECT key, at, who, action, target, done, refused, skipped FROM action_log"
                                               " WHERE key < ?1 ORDER BY key DESC LIMIT ?2";
inline constexpr std::string_view forget_actions = "DELETE FROM action_log WHERE at < ?";
#undef SPOOL_SQLITE_SUPPRESSION

// Listings. The columns of a queue_entry: message_id, submit_time, submit_flags, held_for, request.
#define SPOOL_SQLITE_ENTRY "SELECT message_id, submit_time, submit_flags, held_for, request"
inline constexpr std::string_view outgoing_queue = SPOOL_SQLITE_ENTRY " FROM outgoing_queue ORDER BY submit_time, sequence";
// By the next attempt, not by submit order: that index would read the whole
// queue to find the few due entries.
inline constexpr std::string_view due_queue =
    SPOOL_SQLITE_ENTRY " FROM outgoing_queue INDEXED BY queue_due WHERE next_attempt <= ? ORDER BY submit_time, sequence LIMIT ?";
// One spooler's claims, kept in memory: the next due rows in queue order after
// (?, ?), walking the queue's order or reading what is due.
inline constexpr std::string_view walk_in_order =
    SPOOL_SQLITE_ENTRY ", next_attempt, sequence FROM outgoing_queue INDEXED BY queue_order WHERE (submit_time, sequence) > (?, ?)"
                       " ORDER BY submit_time, sequence";
inline constexpr std::string_view due_after =
    SPOOL_SQLITE_ENTRY ", next_attempt, sequence FROM outgoing_queue INDEXED BY queue_due WHERE next_attempt <= ?"
                       " AND (submit_time, sequence) > (?, ?) ORDER BY submit_time, sequence LIMIT ?";
#undef SPOOL_SQLITE_ENTRY

// The shared queue: a claim leases due rows by the database's clock and bumps
// each one's fencing token; the holder's writes carry the token.
inline constexpr std::string_view claim =
    "UPDATE outgoing_queue SET lease_owner = ?, lease_until = " SPOOL_SQLITE_NOW_MS " + ?, fence = fence + 1"
    " WHERE message_id IN (SELECT message_id FROM outgoing_queue INDEXED BY queue_due WHERE next_attempt <= ?"
    " AND (lease_until IS NULL OR lease_until <= " SPOOL_SQLITE_NOW_MS ") ORDER BY submit_time, sequence LIMIT ?)"
    " RETURNING message_id, submit_time, submit_flags, held_for, request, fence, sequence";
// One message claimed by its id, unless a live lease holds it.
inline constexpr std::string_view claim_message =
    "UPDATE outgoing_queue SET lease_owner = ?, lease_until = " SPOOL_SQLITE_NOW_MS " + ?, fence = fence + 1"
    " WHERE message_id = ? AND (lease_until IS NULL OR lease_until <= " SPOOL_SQLITE_NOW_MS ") RETURNING fence";
inline constexpr std::string_view fence = "SELECT fence FROM outgoing_queue WHERE message_id = ?";
inline constexpr std::string_view release_lease =
    "UPDATE outgoing_queue SET lease_owner = NULL, lease_until = NULL WHERE message_id = ? AND fence = ?";
inline constexpr std::string_view renew_lease =
    "UPDATE outgoing_queue SET lease_until = " SPOOL_SQLITE_NOW_MS " + ? WHERE message_id = ? AND fence = ?";
inline constexpr std::string_view leased =
    "SELECT 1 FROM outgoing_queue WHERE message_id = ? AND lease_until > " SPOOL_SQLITE_NOW_MS;

// Waiting for a destination that is down: a held message, or one with a
// request, keeps its next attempt; a destination back up makes its messages due.
// Written by the holder of the claim: ?4 its token, or -1 where one spooler owns the queue.
inline constexpr std::string_view hold_back =
    "UPDATE outgoing_queue SET next_attempt = CASE WHEN held_since IS NULL AND request = 0 THEN ?1"
    " ELSE next_attempt END, waiting_for = ?2 WHERE message_id = ?3 AND (?4 < 0 OR fence = ?4)";
inline constexpr std::string_view release_held_back =
    "UPDATE outgoing_queue SET next_attempt = CASE WHEN held_since IS NULL THEN 0 ELSE next_attempt END,"
    " waiting_for = NULL WHERE waiting_for = ?";

// Administration.
// The rows listings show: one (?1, exactly), or up to ?2 after ?1.
#define SPOOL_SQLITE_QUEUE_ROW                                                                                              \
    "SELECT q.message_id, q.submit_time, m.body, q.held_since, q.held_for, q.request, q.next_attempt,"               \
    " " SPOOL_SQLITE_LEASED " AS leased, q.lease_owner, q.waiting_for FROM outgoing_queue q JOIN messages m ON m.id = q.message_id"
inline constexpr std::string_view queue_row = SPOOL_SQLITE_QUEUE_ROW " WHERE q.message_id = ?1 LIMIT ?2";
inline constexpr std::string_view queue_rows = SPOOL_SQLITE_QUEUE_ROW " WHERE q.message_id > ?1 ORDER BY q.message_id LIMIT ?2";
#undef SPOOL_SQLITE_QUEUE_ROW
// The queue's rows by state at ?1, and how many carry a request.
inline constexpr std::string_view count_by_state =
    "SELECT " SPOOL_SQLITE_STATE " AS state, count(*) AS messages, coalesce(sum(request <> 0), 0) AS requested"
    " FROM outgoing_queue GROUP BY state";
// A hold: ?1 since when, ?2 a held row's next attempt.
inline constexpr std::string_view hold =
    "UPDATE outgoing_queue SET held_since = ?, next_attempt = ? WHERE message_id = ? AND held_since IS NULL";
inline constexpr std::string_view release =
    "UPDATE outgoing_queue SET held_for = held_for + coalesce(max(0, ?1 - held_since), 0), held_since = NULL,"
    " next_attempt = 0, waiting_for = NULL WHERE message_id = ?2 AND (held_since IS NOT NULL OR waiting_for IS NOT NULL)";
inline constexpr std::string_view request =
    "UPDATE outgoing_queue SET request = max(request, ?1),"
    " held_since = CASE WHEN " SPOOL_SQLITE_ENDS_HOLD("?1") " THEN NULL ELSE held_since END,"
    " next_attempt = CASE WHEN held_since IS NULL OR " SPOOL_SQLITE_ENDS_HOLD("?1") " THEN 0 ELSE next_attempt END,"
    " waiting_for = NULL WHERE message_id = ?2";

#undef SPOOL_SQLITE_ENDS_HOLD
#undef SPOOL_SQLITE_STATE
#undef SPOOL_SQLITE_LEASED
#undef SPOOL_SQLITE_NOW_MS

} // namespace spool::detail::sqlite::sql
