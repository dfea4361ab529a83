#pragma once

// Every statement the PostgreSQL store runs, by name, in one table, prepared
// once per connection. Results are read by column name. The queue row's
// state, a live lease and a held row's next attempt are each written once,
// below, and used by name.

#include <spool/postgres/detail/connection.hpp>

#include <cstdint>

namespace spool::detail::postgres {

// The next attempt of a held row: past every `now`, so no due query finds it.
#define SPOOL_PG_HELD_NEXT_ATTEMPT "9223372036854775807"
// A lease that has not expired, by the database's clock: a spooler has the message in hand.
#define SPOOL_PG_LEASED(table) "coalesce(" table ".lease_until > clock_timestamp(), false)"
// The queue row's state (spool::queue_state's values) at $1, the caller's now.
#define SPOOL_PG_STATE                                                                                                      \
    "CASE WHEN " SPOOL_PG_LEASED("spool_queue") " THEN 3 WHEN held_since IS NOT NULL THEN 2 WHEN next_attempt <= $1 THEN 0"  \
    " WHEN waiting_for IS NOT NULL THEN 4 ELSE 1 END"
// A request that ends a hold and is due at once: expire, remove_with_report, remove.
#define SPOOL_PG_ENDS_HOLD(r) "(" r " >= 2)"

// Every statement the store runs often, prepared once per connection.
namespace sql {
inline constexpr statement load{"spool_load", "SELECT body FROM spool_messages WHERE id = $1"};
inline constexpr statement create{"spool_create", "INSERT INTO spool_messages (folder, body) VALUES ($1, $2) RETURNING id"};
// Messages created queued or enqueued NOTIFY the channel $6 (delivered at commit).
inline constexpr statement create_queued{
    "spool_create_queued",
    "WITH m AS (INSERT INTO spool_messages (folder, body) VALUES ($1, $2) RETURNING id),"
    " q AS (INSERT INTO spool_queue (message_id, submit_time, submit_flags, next_attempt) SELECT id, $3, $4, $5 FROM m)"
    " SELECT id, pg_notify($6, '') IS NULL FROM m"};
// Ids for messages created in bulk, taken from the messages' own sequence
// ahead of their rows ($1 of them), so that a send in a batch has its id at once.
inline constexpr statement reserve_ids{
    "spool_reserve_ids", "SELECT nextval(pg_get_serial_sequence('spool_messages', 'id')) FROM generate_series(1, $1::bigint)"};
// Messages created queued in bulk: one row of each array per message, in
// queue order ($1 ids reserved above, $2 folders, $3 bodies, $4 submit times,
// $5 flags, $6 next attempts); one NOTIFY on $7 for all of them.
inline constexpr statement create_queued_all{
    "spool_create_queued_all",
    "WITH input AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bigint[], $5::bigint[], $6::bigint[])"
    "               WITH ORDINALITY AS u (id, folder, body, submit_time, submit_flags, next_attempt, n)),"
    " m AS (INSERT INTO spool_messages (id, folder, body) OVERRIDING SYSTEM VALUE SELECT id, folder, body FROM input),"
    " q AS (INSERT INTO spool_queue (message_id, submit_time, submit_flags, next_attempt)"
    "       SELECT id, submit_time, submit_flags, next_attempt FROM input ORDER BY n)"
    " SELECT pg_notify($7, '')"};
inline constexpr statement enqueue{
    "spool_enqueue",
    "WITH m AS (UPDATE spool_messages SET body = $2 WHERE id = $1"
    "           AND NOT EXISTS (SELECT 1 FROM spool_queue WHERE message_id = $1) RETURNING id),"
    " q AS (INSERT INTO spool_queue (message_id, submit_time, submit_flags, next_attempt) SELECT id, $3, $4, $5 FROM m)"
    " SELECT (SELECT count(*) FROM m) AS written, EXISTS (SELECT 1 FROM spool_messages WHERE id = $1) AS message_exists,"
    " (SELECT count(pg_notify($6, '') IS NULL) FROM m) AS notified"};
// Saves: the holder of a claim writes only while its token ($4) is the row's.
// A hold or a request made while the message was in hand outlives the save:
// it is applied at the message's next pass. A flush is met by the pass that saves.
#define SPOOL_PG_KEEP_ADMIN                                                                                               \
    "next_attempt = CASE WHEN held_since IS NOT NULL THEN " SPOOL_PG_HELD_NEXT_ATTEMPT " WHEN " SPOOL_PG_ENDS_HOLD("request")   \
    " THEN 0 ELSE $3 END,"                                                                                                 \
    " request = CASE WHEN request = 1 THEN 0 ELSE request END, waiting_for = NULL"
inline constexpr statement save{
    "spool_save",
    "WITH m AS (UPDATE spool_messages SET body = $2 WHERE id = $1 RETURNING id),"
    " q AS (UPDATE spool_queue SET " SPOOL_PG_KEEP_ADMIN " WHERE message_id IN (SELECT id FROM m))"
    " SELECT count(*) AS written FROM m"};
inline constexpr statement save_fenced{
    "spool_save_fenced",
    "WITH q AS (UPDATE spool_queue SET " SPOOL_PG_KEEP_ADMIN " WHERE message_id = $1 AND fence = $4 RETURNING message_id),"
    " m AS (UPDATE spool_messages SET body = $2 WHERE id IN (SELECT message_id FROM q) RETURNING id)"
    " SELECT (SELECT count(*) FROM m) AS written, EXISTS (SELECT 1 FROM spool_messages WHERE id = $1) AS message_exists"};
// Out of the queue, unless another process's lease holds it.
// Abort: out of the queue unless another holds a live lease; the holder of
// the token $3 (-1: none) may take back its own claim (law Q6).
inline constexpr statement abort_submit{
    "spool_abort",
    "WITH q AS (DELETE FROM spool_queue WHERE message_id = $1"
    "           AND (lease_until IS NULL OR lease_until <= clock_timestamp() OR fence = $3) RETURNING message_id),"
    " m AS (UPDATE spool_messages SET body = $2 WHERE id IN (SELECT message_id FROM q))"
    " SELECT (SELECT count(*) FROM q) AS written, EXISTS (SELECT 1 FROM spool_messages WHERE id = $1) AS message_exists,"
    " EXISTS (SELECT 1 FROM spool_queue WHERE message_id = $1) AS queued"};
// Finish: out of the queue (by the holder of the token $3, where one is given),
// then the body written and moved ($4: the folder, or null to leave it), or the message deleted.
inline constexpr statement finish_keep{
    "spool_finish_keep",
    "WITH q AS (DELETE FROM spool_queue WHERE message_id = $1 AND ($3::bigint IS NULL OR fence = $3) RETURNING message_id),"
    " m AS (UPDATE spool_messages SET body = $2, folder = COALESCE($4, folder) WHERE id IN (SELECT message_id FROM q))"
    " SELECT (SELECT count(*) FROM q) AS written, EXISTS (SELECT 1 FROM spool_messages WHERE id = $1) AS message_exists,"
    " EXISTS (SELECT 1 FROM spool_queue WHERE message_id = $1) AS queued"};
inline constexpr statement finish_delete{
    "spool_finish_delete",
    "WITH d AS (DELETE FROM spool_messages WHERE id = $1 AND EXISTS"
    "           (SELECT 1 FROM spool_queue WHERE message_id = $1 AND ($2::bigint IS NULL OR fence = $2)) RETURNING id)"
    " SELECT (SELECT count(*) FROM d) AS written, EXISTS (SELECT 1 FROM spool_messages WHERE id = $1) AS message_exists,"
    " EXISTS (SELECT 1 FROM spool_queue WHERE message_id = $1) AS queued"};
// Many finishes, one row of each array per message ($1 ids; $2 tokens, -1
// for none; $3 bodies; $4 folders, -1 to leave; $5 1 to delete), each as
// finish_keep or finish_delete would make it; a row per message, in order.
inline constexpr statement finish_all{
    "spool_finish_all",
    "WITH input AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bigint[], $5::bigint[])"
    "               WITH ORDINALITY AS u (id, fence, body, folder, remove, n)),"
    " gone AS (DELETE FROM spool_messages m USING input i WHERE i.remove = 1 AND m.id = i.id AND EXISTS"
    "          (SELECT 1 FROM spool_queue s WHERE s.message_id = i.id AND (i.fence < 0 OR s.fence = i.fence)) RETURNING m.id),"
    " q AS (DELETE FROM spool_queue s USING input i WHERE i.remove = 0 AND s.message_id = i.id AND (i.fence < 0 OR s.fence = i.fence)"
    "       RETURNING s.message_id),"
    " kept AS (UPDATE spool_messages m SET body = i.body, folder = CASE WHEN i.folder < 0 THEN m.folder ELSE i.folder END"
    "          FROM input i WHERE m.id = i.id AND m.id IN (SELECT message_id FROM q))"
    " SELECT i.id AS message_id, (i.id IN (SELECT id FROM gone) OR i.id IN (SELECT message_id FROM q)) AS written,"
    " EXISTS (SELECT 1 FROM spool_messages m WHERE m.id = i.id) AS message_exists FROM input i ORDER BY i.n"};
// One spooler at a time vacuums the queue (postgres_options::vacuum_interval).
inline constexpr statement try_vacuum_lock{"spool_try_vacuum_lock", "SELECT pg_try_advisory_lock(7368033) AS locked"};
inline constexpr statement vacuum_unlock{"spool_vacuum_unlock", "SELECT pg_advisory_unlock(7368033)"};
// What a vacuum left: dead rows it could not remove (a transaction may still see them).
inline constexpr statement dead_queue_rows{"spool_dead_queue_rows",
                                           "SELECT n_dead_tup AS dead FROM pg_stat_user_tables WHERE relid = 'spool_queue'::regclass"};
// The queue's autovacuum threshold (schema 1), above which dead rows count as many.
inline constexpr std::int64_t vacuum_threshold = 10000;
inline constexpr statement quarantine{
    "spool_quarantine",
    "WITH q AS (DELETE FROM spool_queue WHERE message_id = $1) UPDATE spool_messages SET folder = $2 WHERE id = $1"};
inline constexpr statement queue{"spool_queue",
                                 "SELECT message_id, submit_time, submit_flags, held_for, request FROM spool_queue ORDER BY submit_time, sequence"};
inline constexpr statement due{"spool_due",
                               "SELECT message_id, submit_time, submit_flags, held_for, request FROM spool_queue WHERE next_attempt <= $1"
                               " ORDER BY submit_time, sequence LIMIT $2"};
inline constexpr statement contents{"spool_contents", "SELECT id FROM spool_messages WHERE folder = $1 ORDER BY id"};
// The claim: due, not leased (or the lease expired), oldest first, rows other
// claimers hold skipped rather than waited for. Leased by the database's clock.
// The bodies come with the claim: the spooler loads each claimed message next,
// and a round trip per message is what a pass spends most time on.
inline constexpr statement claim{
    "spool_claim",
    "WITH due AS (SELECT message_id FROM spool_queue WHERE next_attempt <= $1"
    "             AND (lease_until IS NULL OR lease_until <= clock_timestamp())"
    "             ORDER BY submit_time, sequence LIMIT $2 FOR UPDATE SKIP LOCKED)"
    " UPDATE spool_queue q SET lease_owner = $3, lease_until = clock_timestamp() + $4::bigint * interval '1 millisecond',"
    " fence = q.fence + 1 FROM due JOIN spool_messages m ON m.id = due.message_id WHERE q.message_id = due.message_id"
    " RETURNING q.message_id, q.submit_time, q.submit_flags, q.held_for, q.request, q.fence, q.sequence, m.body"};
// One message claimed by its id, as the claim does, unless a live lease
// holds it: an update waits for a claim locking the row, then finds its lease.
inline constexpr statement claim_message{
    "spool_claim_message",
    "UPDATE spool_queue SET lease_owner = $2, lease_until = clock_timestamp() + $3::bigint * interval '1 millisecond',"
    " fence = fence + 1 WHERE message_id = $1 AND (lease_until IS NULL OR lease_until <= clock_timestamp()) RETURNING fence"};
// Renewal and release of this process's claims: ids and tokens as arrays ($1, $2).
inline constexpr statement renew{
    "spool_renew",
    "UPDATE spool_queue q SET lease_until = clock_timestamp() + $3::bigint * interval '1 millisecond'"
    " FROM unnest($1::bigint[], $2::bigint[]) AS c (id, fence) WHERE q.message_id = c.id AND q.fence = c.fence"
    " RETURNING q.message_id"};
inline constexpr statement release{
    "spool_release",
    "UPDATE spool_queue q SET lease_until = NULL, lease_owner = NULL"
    " FROM unnest($1::bigint[], $2::bigint[]) AS c (id, fence) WHERE q.message_id = c.id AND q.fence = c.fence"};
// Waiting for a destination that is down: the holder of each claim ($1 ids,
// $2 tokens) writes the destination ($4) and its next probe ($3), unless a
// hold or a request keeps the row's next attempt; a destination back up makes
// its messages due at once.
inline constexpr statement hold_back{
    "spool_hold_back",
    "UPDATE spool_queue q SET next_attempt = CASE WHEN q.held_since IS NULL AND q.request = 0 THEN $3 ELSE q.next_attempt END,"
    " waiting_for = $4 FROM unnest($1::bigint[], $2::bigint[]) AS c (id, fence) WHERE q.message_id = c.id AND q.fence = c.fence"};
inline constexpr statement release_held_back{
    "spool_release_held_back",
    "WITH u AS (UPDATE spool_queue SET next_attempt = CASE WHEN held_since IS NULL THEN 0 ELSE next_attempt END, waiting_for = NULL"
    " WHERE waiting_for = $1 RETURNING 1) SELECT count(*) FROM u WHERE pg_notify($2, '') IS NOT NULL"};
inline constexpr statement leased{"spool_leased",
                                  "SELECT fence FROM spool_queue WHERE message_id = $1 AND lease_until > clock_timestamp()"};
#undef SPOOL_PG_KEEP_ADMIN

// Administration. Rows as listings show them: one ($1, exactly), or up to $2 after $1.
#define SPOOL_PG_QUEUE_ROW                                                                                                \
    "SELECT q.message_id, q.submit_time, m.body, q.held_since, q.held_for, q.request::bigint, q.next_attempt,"          \
    " " SPOOL_PG_LEASED("q") " AS leased, q.lease_owner, q.waiting_for FROM spool_queue q JOIN spool_messages m ON m.id = q.message_id"
inline constexpr statement queue_row{"spool_queue_row", SPOOL_PG_QUEUE_ROW " WHERE q.message_id = $1 LIMIT $2"};
inline constexpr statement queue_rows{"spool_queue_rows", SPOOL_PG_QUEUE_ROW " WHERE q.message_id > $1 ORDER BY q.message_id LIMIT $2"};
#undef SPOOL_PG_QUEUE_ROW
// The queue's rows by state at $1, and how many carry a request.
// The suppression list. $1 the key; expires is compared with the caller's now.
#define SPOOL_PG_SUPPRESSION "SELECT address, reason, diagnostic, added, expires, source FROM spool_suppressions"
inline constexpr statement suppress{
    "spool_suppress",
    "INSERT INTO spool_suppressions (address, reason, diagnostic, added, expires, source) VALUES ($1, $2, $3, $4, $5, $6)"
    " ON CONFLICT (address) DO UPDATE SET reason = $2, diagnostic = $3, added = $4, expires = $5, source = $6"};
inline constexpr statement find_suppression{"spool_find_suppression", SPOOL_PG_SUPPRESSION " WHERE address = $1 AND expires > $2"};
inline constexpr statement unsuppress{
    "spool_unsuppress", "WITH d AS (DELETE FROM spool_suppressions WHERE address = $1 RETURNING 1) SELECT count(*) AS removed FROM d"};
inline constexpr statement list_suppressions{
    "spool_list_suppressions", SPOOL_PG_SUPPRESSION " WHERE address > $1 AND expires > $2 ORDER BY address LIMIT $3"};
inline constexpr statement count_suppressions{
    "spool_count_suppressions", "SELECT count(*) AS entries FROM spool_suppressions WHERE expires > $1"};
// Returned reports kept for later, oldest first.
inline constexpr statement keep_returned{
    "spool_keep_returned", "INSERT INTO spool_returned (original, reporting_mta, recipients) VALUES ($1, $2, $3)"};
inline constexpr statement returned_backlog{
    "spool_returned_backlog", "SELECT key, original, reporting_mta, recipients FROM spool_returned ORDER BY key LIMIT $1"};
inline constexpr statement forget_returned{"spool_forget_returned", "DELETE FROM spool_returned WHERE key = $1"};
// The action log, newest first, below key $1.
inline constexpr statement log_action{
    "spool_log_action", "INSERT INTO spool_actions (at, who, action, target, done, refused, skipped) VALUES ($1, $2, $3, $4, $5, $6, $7)"};
inline constexpr statement action_log{"spool_action_log", "SELECT key, at, who, action, target, done, refused, skipped FROM spool_actions"
                                                          " WHERE key < $1 ORDER BY key DESC LIMIT $2"};
inline constexpr statement forget_actions{
    "spool_forget_actions", "WITH d AS (DELETE FROM spool_actions WHERE at < $1 RETURNING 1) SELECT count(*) AS removed FROM d"};
#undef SPOOL_PG_SUPPRESSION

inline constexpr statement count_by_state{
    "spool_count_by_state",
    "SELECT " SPOOL_PG_STATE " AS state, count(*) AS messages, count(*) FILTER (WHERE request <> 0) AS requested FROM spool_queue GROUP BY 1"};
// Each returns a row when the message is queued; none tells the caller to look for why.
// Releases and requests wake the spoolers ($3: the channel), as submits do.
inline constexpr statement hold{
    "spool_hold",
    "UPDATE spool_queue SET held_since = coalesce(held_since, $2),"
    " next_attempt = CASE WHEN held_since IS NULL THEN " SPOOL_PG_HELD_NEXT_ATTEMPT " ELSE next_attempt END WHERE message_id = $1 RETURNING 1"};
inline constexpr statement release_hold{
    "spool_release_hold",
    "WITH u AS (UPDATE spool_queue SET held_for = held_for + CASE WHEN held_since IS NULL THEN 0 ELSE greatest(0, $2 - held_since) END,"
    " next_attempt = CASE WHEN held_since IS NULL AND waiting_for IS NULL THEN next_attempt ELSE 0 END, held_since = NULL, waiting_for = NULL"
    " WHERE message_id = $1 RETURNING 1)"
    " SELECT 1 FROM u WHERE pg_notify($3, '') IS NOT NULL"};
inline constexpr statement request{
    "spool_request",
    "WITH u AS (UPDATE spool_queue SET request = greatest(request, $2::bigint),"
    " held_since = CASE WHEN " SPOOL_PG_ENDS_HOLD("$2::bigint") " THEN NULL ELSE held_since END,"
    " next_attempt = CASE WHEN held_since IS NULL OR " SPOOL_PG_ENDS_HOLD("$2::bigint") " THEN 0 ELSE next_attempt END, waiting_for = NULL"
    " WHERE message_id = $1 RETURNING 1)"
    " SELECT 1 FROM u WHERE pg_notify($3, '') IS NOT NULL"};
// Deleted at once unless a lease holds it.
inline constexpr statement remove{
    "spool_remove",
    "DELETE FROM spool_messages WHERE id = $1 AND EXISTS (SELECT 1 FROM spool_queue WHERE message_id = $1"
    " AND (lease_until IS NULL OR lease_until <= clock_timestamp())) RETURNING 1"};
inline constexpr statement message_exists{"spool_message_exists", "SELECT 1 FROM spool_messages WHERE id = $1"};
inline constexpr statement queued{"spool_queued", "SELECT 1 FROM spool_queue WHERE message_id = $1"};
} // namespace sql

#undef SPOOL_PG_ENDS_HOLD
#undef SPOOL_PG_STATE
#undef SPOOL_PG_LEASED
#undef SPOOL_PG_HELD_NEXT_ATTEMPT

} // namespace spool::detail::postgres
