#pragma once

// A durable Store in a PostgreSQL database, on which several spooler
// processes, on several hosts, share one queue. Link the spool::postgres
// CMake target (libpq). docs/postgres-store.md says how to deploy it.
//
// Contract:
// - When an operation returns success, it is committed (durable as the
//   server's synchronous_commit says). Each operation is one statement, so one
//   transaction; batch() makes many one transaction.
// - The shared queue: a spooler claims due messages (claim_due, one statement
//   with FOR UPDATE SKIP LOCKED), which leases them to this store object for
//   `lease` by the database's clock and bumps each one's fencing token. Every
//   write of an outcome by the holder carries the token; once another process
//   has claimed the message (after the lease expired), the write is refused
//   with errc::lease_lost and changes nothing. Delivery is at least once: a
//   process that dies mid hand-off leaves its messages to whoever claims them
//   after the lease, with the same delivery keys; a recipient recorded as sent
//   is never handed off again.
// - Clients in other processes get errc::no_access on opening a leased
//   message and errc::unable_to_abort on aborting it, as clients of the
//   spooler's own process do.
// - Wake-ups: a submit NOTIFYs the other processes' spoolers (LISTEN on a
//   second connection); they also look every poll_interval, which is also
//   how they find leases that expired. listen = false polls only, for
//   transaction-mode connection poolers.
// - A lost connection is errc::store_unavailable; the store reconnects by
//   itself on a later call, with a doubling pause. Nothing is lost: what was
//   not committed was not acknowledged, and leases held expire.
// - A schema written by a newer spool, or tables of spool's names that are
//   not spool's, are refused (errc::schema_too_new, not_a_spool_store,
//   invalid_schema) and left as they are. Migrations run under an advisory
//   lock, so processes that start together migrate once.

#include <spool/administration.hpp>
#include <spool/error.hpp>
#include <spool/mail/codec.hpp>
#include <spool/message.hpp>
#include <spool/postgres/detail/connection.hpp>
#include <spool/postgres/error.hpp>
#include <spool/result.hpp>
#include <spool/stores/detail/lease_book.hpp>
#include <spool/stores/detail/queue_listing.hpp>
#include <spool/store_capabilities.hpp>
#include <spool/tags.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

namespace spool {

struct postgres_options {
    /// How long a claim holds a message for this process, by the database's
    /// clock. The spooler renews it every third of this while hand-offs run;
    /// a process that dies leaves its messages to others after this long.
    std::chrono::milliseconds lease{30000};
    /// The most messages one claim takes. Small batches spread the queue over
    /// the processes; the spooler claims again until nothing due is left.
    std::size_t claim_batch = 256;
    /// LISTEN for submits of other processes. Off: poll only (needed behind a
    /// connection pooler in transaction mode, where LISTEN does not work).
    bool listen = true;
    /// How often an idle spooler looks for due messages and expired leases
    /// without a notification.
    std::chrono::milliseconds poll_interval{1000};
    /// The server's statement_timeout for this store's statements (0: the
    /// server's setting). A statement cancelled by it is an error of
    /// postgres_category() (SQLSTATE 57014).
    std::chrono::milliseconds statement_timeout{0};
    /// The first pause after a failed connection attempt; it doubles with each
    /// failure in a row, up to reconnect_max.
    std::chrono::milliseconds reconnect_min{50};
    std::chrono::milliseconds reconnect_max{5000};
    /// Who holds a lease, as shown in spool_queue.lease_owner (default: host, pid and a random tag).
    std::string owner;
    /// Make spool's tables in a schema that has none. Off, as an
    /// administration tool opens a spool, such a schema (empty, or with other
    /// tables only) is refused with errc::not_a_spool_store and left as it is.
    bool create = true;
};

namespace detail::postgres {

// The schema, one step per version; a database is brought forward step by step.
// Bodies live apart from the queue, so that claims and lease renewals update
// narrow rows; the queue's fillfactor leaves room on each page, so those
// updates stay heap-only (no new index entries, less bloat).
inline constexpr std::string_view migrations[] = {
    // 1
    "CREATE TABLE spool_messages (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, folder bigint NOT NULL, body bytea NOT NULL);"
    "CREATE INDEX spool_messages_by_folder ON spool_messages (folder, id);"
    "CREATE TABLE spool_queue (message_id bigint PRIMARY KEY REFERENCES spool_messages (id) ON DELETE CASCADE,"
    " submit_time bigint NOT NULL, sequence bigint GENERATED ALWAYS AS IDENTITY, submit_flags bigint NOT NULL,"
    " next_attempt bigint NOT NULL, lease_owner text, lease_until timestamptz, fence bigint NOT NULL DEFAULT 0)"
    " WITH (fillfactor = 70);"
    "CREATE INDEX spool_queue_order ON spool_queue (submit_time, sequence);"
    "CREATE INDEX spool_queue_due ON spool_queue (next_attempt);"
    // Every message leaves a few dead queue rows (claimed, released, deleted):
    // vacuum the queue by a number of them, not by a share of a table that may
    // be small, and without the cost pauses (docs/postgres-store.md, "Bloat").
    "ALTER TABLE spool_queue SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000,"
    " autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 10000, autovacuum_vacuum_cost_delay = 0);",
    // 2: administration (docs/administration.md): a hold (since when, in ns;
    // its next attempt is then held_next_attempt, past any due query), the
    // time of earlier holds, and the request waiting for a spooler.
    "ALTER TABLE spool_queue ADD COLUMN held_since bigint, ADD COLUMN held_for bigint NOT NULL DEFAULT 0,"
    " ADD COLUMN request smallint NOT NULL DEFAULT 0;",
    // 3: the destination that is down a message waits for (its next attempt
    // is then the destination's next probe), so that claims do not take it
    // until then, and the messages of a destination back up are found at once.
    // A destination that goes down or comes back rewrites the next attempt of
    // its whole backlog at once: the statistics are refreshed by a number of
    // rows changed too, so claims soon plan with what is due now.
    "ALTER TABLE spool_queue ADD COLUMN waiting_for text;"
    "CREATE INDEX spool_queue_waiting ON spool_queue (waiting_for) WHERE waiting_for IS NOT NULL;"
    "ALTER TABLE spool_queue SET (autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 10000);",
};
inline constexpr int latest_schema = static_cast<int>(std::size(migrations));

inline std::int64_t nanoseconds(time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
inline time_point from_nanoseconds(std::int64_t ns) {
    return time_point{std::chrono::duration_cast<time_point::duration>(std::chrono::nanoseconds{ns})};
}

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
inline constexpr statement enqueue{
    "spool_enqueue",
    "WITH m AS (UPDATE spool_messages SET body = $2 WHERE id = $1"
    "           AND NOT EXISTS (SELECT 1 FROM spool_queue WHERE message_id = $1) RETURNING id),"
    " q AS (INSERT INTO spool_queue (message_id, submit_time, submit_flags, next_attempt) SELECT id, $3, $4, $5 FROM m)"
    " SELECT (SELECT count(*) FROM m), EXISTS (SELECT 1 FROM spool_messages WHERE id = $1),"
    " (SELECT count(pg_notify($6, '') IS NULL) FROM m)"};
// Saves: the holder of a claim writes only while its token ($4) is the row's.
// A hold or a request made while the message was in hand outlives the save:
// it is applied at the message's next pass. A flush is met by the pass that saves.
#define SPOOL_PG_KEEP_ADMIN                                                                                               \
    "next_attempt = CASE WHEN held_since IS NOT NULL THEN 9223372036854775807 WHEN request >= 2 THEN 0 ELSE $3 END,"    \
    " request = CASE WHEN request = 1 THEN 0 ELSE request END, waiting_for = NULL"
inline constexpr statement save{
    "spool_save",
    "WITH m AS (UPDATE spool_messages SET body = $2 WHERE id = $1 RETURNING id),"
    " q AS (UPDATE spool_queue SET " SPOOL_PG_KEEP_ADMIN " WHERE message_id IN (SELECT id FROM m))"
    " SELECT count(*) FROM m"};
inline constexpr statement save_fenced{
    "spool_save_fenced",
    "WITH q AS (UPDATE spool_queue SET " SPOOL_PG_KEEP_ADMIN " WHERE message_id = $1 AND fence = $4 RETURNING message_id),"
    " m AS (UPDATE spool_messages SET body = $2 WHERE id IN (SELECT message_id FROM q) RETURNING id)"
    " SELECT (SELECT count(*) FROM m), EXISTS (SELECT 1 FROM spool_messages WHERE id = $1)"};
// Out of the queue, unless another process's lease holds it.
inline constexpr statement abort_submit{
    "spool_abort",
    "WITH q AS (DELETE FROM spool_queue WHERE message_id = $1"
    "           AND (lease_until IS NULL OR lease_until <= clock_timestamp()) RETURNING message_id),"
    " m AS (UPDATE spool_messages SET body = $2 WHERE id IN (SELECT message_id FROM q))"
    " SELECT (SELECT count(*) FROM q), EXISTS (SELECT 1 FROM spool_messages WHERE id = $1),"
    " EXISTS (SELECT 1 FROM spool_queue WHERE message_id = $1)"};
// Finish: out of the queue (by the holder of the token $3, where one is given),
// then the body written and moved ($4: the folder, or null to leave it), or the message deleted.
inline constexpr statement finish_keep{
    "spool_finish_keep",
    "WITH q AS (DELETE FROM spool_queue WHERE message_id = $1 AND ($3::bigint IS NULL OR fence = $3) RETURNING message_id),"
    " m AS (UPDATE spool_messages SET body = $2, folder = COALESCE($4, folder) WHERE id IN (SELECT message_id FROM q))"
    " SELECT (SELECT count(*) FROM q), EXISTS (SELECT 1 FROM spool_messages WHERE id = $1),"
    " EXISTS (SELECT 1 FROM spool_queue WHERE message_id = $1)"};
inline constexpr statement finish_delete{
    "spool_finish_delete",
    "WITH d AS (DELETE FROM spool_messages WHERE id = $1 AND EXISTS"
    "           (SELECT 1 FROM spool_queue WHERE message_id = $1 AND ($2::bigint IS NULL OR fence = $2)) RETURNING id)"
    " SELECT (SELECT count(*) FROM d), EXISTS (SELECT 1 FROM spool_messages WHERE id = $1),"
    " EXISTS (SELECT 1 FROM spool_queue WHERE message_id = $1)"};
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
    " coalesce(q.lease_until > clock_timestamp(), false), q.lease_owner, q.waiting_for FROM spool_queue q JOIN spool_messages m ON m.id = q.message_id"
inline constexpr statement queue_row{"spool_queue_row", SPOOL_PG_QUEUE_ROW " WHERE q.message_id = $1 LIMIT $2"};
inline constexpr statement queue_rows{"spool_queue_rows", SPOOL_PG_QUEUE_ROW " WHERE q.message_id > $1 ORDER BY q.message_id LIMIT $2"};
#undef SPOOL_PG_QUEUE_ROW
inline constexpr statement count_queue{
    "spool_count_queue",
    "SELECT count(*), count(*) FILTER (WHERE leased), count(*) FILTER (WHERE held_since IS NOT NULL AND NOT leased),"
    " count(*) FILTER (WHERE held_since IS NULL AND NOT leased AND next_attempt > $1 AND waiting_for IS NULL),"
    " count(*) FILTER (WHERE held_since IS NULL AND NOT leased AND next_attempt <= $1), count(*) FILTER (WHERE request <> 0),"
    " count(*) FILTER (WHERE held_since IS NULL AND NOT leased AND next_attempt > $1 AND waiting_for IS NOT NULL)"
    " FROM (SELECT held_since, next_attempt, request, waiting_for, coalesce(lease_until > clock_timestamp(), false) AS leased FROM spool_queue) q"};
// Each returns a row when the message is queued; none tells the caller to look for why.
// Releases and requests wake the spoolers ($3: the channel), as submits do.
inline constexpr statement hold{
    "spool_hold",
    "UPDATE spool_queue SET held_since = coalesce(held_since, $2),"
    " next_attempt = CASE WHEN held_since IS NULL THEN 9223372036854775807 ELSE next_attempt END WHERE message_id = $1 RETURNING 1"};
inline constexpr statement release_hold{
    "spool_release_hold",
    "WITH u AS (UPDATE spool_queue SET held_for = held_for + CASE WHEN held_since IS NULL THEN 0 ELSE greatest(0, $2 - held_since) END,"
    " next_attempt = CASE WHEN held_since IS NULL AND waiting_for IS NULL THEN next_attempt ELSE 0 END, held_since = NULL, waiting_for = NULL"
    " WHERE message_id = $1 RETURNING 1)"
    " SELECT 1 FROM u WHERE pg_notify($3, '') IS NOT NULL"};
inline constexpr statement request{
    "spool_request",
    "WITH u AS (UPDATE spool_queue SET request = greatest(request, $2::bigint),"
    " held_since = CASE WHEN $2::bigint >= 2 THEN NULL ELSE held_since END,"
    " next_attempt = CASE WHEN held_since IS NULL OR $2::bigint >= 2 THEN 0 ELSE next_attempt END, waiting_for = NULL"
    " WHERE message_id = $1 RETURNING 1)"
    " SELECT 1 FROM u WHERE pg_notify($3, '') IS NOT NULL"};
// Deleted at once unless a lease holds it.
inline constexpr statement remove{
    "spool_remove",
    "DELETE FROM spool_messages WHERE id = $1 AND EXISTS (SELECT 1 FROM spool_queue WHERE message_id = $1"
    " AND (lease_until IS NULL OR lease_until <= clock_timestamp())) RETURNING 1"};
inline constexpr statement message_exists{"spool_message_exists", "SELECT 1 FROM spool_messages WHERE id = $1"};
} // namespace sql

inline std::string array_of(const std::vector<std::int64_t>& values) {
    std::string out = "{";
    for (std::size_t i = 0; i < values.size(); ++i) out += (i ? "," : "") + std::to_string(values[i]);
    return out + "}";
}

inline std::string default_owner() {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    std::random_device random;
    return std::string(host) + ":" + std::to_string(::getpid()) + ":" + std::to_string(random() % 100000);
}

} // namespace detail::postgres

template <encodable_payload Payload = mail_payload>
class basic_postgres_store {
public:
    using spool_concept = store_tag;
    using message_type = basic_message<Payload>;

    /// Connects with a libpq connection string (TLS and authentication are
    /// libpq's) and brings the schema up to date. Errors: errc::store_unavailable
    /// (the server cannot be reached: the text is in the exception of the
    /// throwing constructor), not_a_spool_store, schema_too_new,
    /// invalid_schema, or the server's (postgres_category()).
    static result<basic_postgres_store> open(const std::string& conninfo, postgres_options options = {}) {
        std::string ignored;
        return open(conninfo, std::move(options), ignored);
    }
    /// As above; on failure `reason` has libpq's or the server's own words
    /// (a malformed connection string, a refused connection, a missing
    /// database), which the error code alone cannot tell apart.
    static result<basic_postgres_store> open(const std::string& conninfo, postgres_options options, std::string& reason) {
        auto s = std::make_shared<state>();
        if (auto ec = s->open(conninfo, std::move(options))) {
            // libpq's words, on one line: its messages end in a newline and wrap with "\n\t".
            reason.clear();
            for (char c : s->db.last_error()) {
                const bool blank = c == '\n' || c == '\t' || c == ' ';
                if (!blank) reason += c;
                else if (!reason.empty() && reason.back() != ' ') reason += ' ';
            }
            if (!reason.empty() && reason.back() == ' ') reason.pop_back();
            return ec;
        }
        return basic_postgres_store{std::move(s)};
    }

    /// As open(), throwing std::system_error whose text has libpq's words.
    explicit basic_postgres_store(const std::string& conninfo, postgres_options options = {}) : state_(std::make_shared<state>()) {
        if (auto ec = state_->open(conninfo, std::move(options)))
            throw std::system_error(ec, "spool: cannot open the PostgreSQL store: " + state_->db.last_error());
    }

    result<message_id> create(folder_id folder, const message_type& m) { return insert(folder, m, false); }

    /// create() and enqueue() in one statement; it NOTIFYs the other processes' spoolers.
    result<message_id> create_queued(folder_id folder, const message_type& m) { return insert(folder, m, true); }

    result<message_type> load(message_id id) const {
        std::string body;
        if (take_prefetched(id, body)) return decoded(id, body);
        auto ec = with_connection([&](detail::postgres::connection& db) -> std::error_code {
            detail::postgres::params p;
            p.integer(key(id));
            auto r = db.run(detail::postgres::sql::load, p);
            if (!r.ok()) return db.error_of(r);
            if (r.rows() == 0) return errc::not_found;
            body = r.bytes(0, 0);
            return {};
        });
        if (ec) return ec;
        return decoded(id, body);
    }

private:
    result<message_type> decoded(message_id id, const std::string& body) const {
        auto m = decode<Payload>(body);
        if (!m && m.error() == errc::format_too_new) return m.error(); // a newer spool's: left for it, untouched
        if (!m) {
            // Out of the queue's way, kept for a person to look at.
            with_connection([&](detail::postgres::connection& db) -> std::error_code {
                detail::postgres::params p;
                p.integer(key(id)).integer(static_cast<std::int64_t>(folders::quarantine));
                db.run(detail::postgres::sql::quarantine, p);
                return {};
            });
            return errc::corrupt_message;
        }
        m->id = id;
        return std::move(*m);
    }

public:
    std::error_code save(message_id id, const message_type& m) {
        const auto body = encode(m);
        return with_connection([&](detail::postgres::connection& db) -> std::error_code {
            detail::postgres::params p;
            p.integer(key(id)).bytes(body).integer(detail::postgres::nanoseconds(next_attempt(m)));
            const auto claim = claim_of(id);
            if (claim && claim->lost) return errc::lease_lost;
            if (claim) p.integer(claim->fence);
            auto r = db.run(claim ? detail::postgres::sql::save_fenced : detail::postgres::sql::save, p);
            if (!r.ok()) return db.error_of(r);
            if (r.integer(0, 0) == 1) return {};
            if (!claim || !r.integer(0, 1)) return errc::not_found;
            return lost(id);
        });
    }

    std::error_code enqueue(message_id id, const message_type& m) {
        const auto body = encode(m);
        return with_connection([&](detail::postgres::connection& db) -> std::error_code {
            detail::postgres::params p;
            p.integer(key(id)).bytes(body);
            queue_columns(p, m).text(state_->channel);
            auto r = db.run(detail::postgres::sql::enqueue, p);
            if (!r.ok()) {
                // Two enqueues of one message at once: the second finds the first's row.
                if (const char* s = r.sqlstate(); s && std::string_view(s) == "23505") return errc::already_submitted;
                return db.error_of(r);
            }
            if (r.integer(0, 0) == 1) return {};
            return r.integer(0, 1) ? errc::already_submitted : errc::not_found;
        });
    }

    /// Takes the message out of the queue as a draft. errc::unable_to_abort
    /// while another process's spooler holds it leased.
    std::error_code abort_submit(message_id id, const message_type& m) {
        const auto body = encode(m);
        return with_connection([&](detail::postgres::connection& db) -> std::error_code {
            detail::postgres::params p;
            p.integer(key(id)).bytes(body);
            auto r = db.run(detail::postgres::sql::abort_submit, p);
            if (!r.ok()) return db.error_of(r);
            if (r.integer(0, 0) == 1) return {};
            if (!r.integer(0, 1)) return errc::not_found;
            return r.integer(0, 2) ? errc::unable_to_abort : errc::not_in_queue;
        });
    }

    std::error_code finish(message_id id, const message_type& m) {
        const bool deleted = std::holds_alternative<disposition::delete_after_submit>(m.sent_mail);
        const auto body = deleted ? std::string{} : encode(m); // a deleted message is not written first
        return with_connection([&](detail::postgres::connection& db) -> std::error_code {
            detail::postgres::params p;
            p.integer(key(id));
            const auto claim = claim_of(id);
            if (claim && claim->lost) return errc::lease_lost;
            const std::optional<std::int64_t> token = claim ? std::optional{claim->fence} : std::nullopt;
            if (!deleted) p.bytes(body);
            p.optional_integer(token ? &*token : nullptr);
            if (!deleted) {
                const auto* move = std::get_if<disposition::move_to>(&m.sent_mail);
                const std::int64_t folder = move ? static_cast<std::int64_t>(move->folder) : 0;
                p.optional_integer(move ? &folder : nullptr);
            }
            auto r = db.run(deleted ? detail::postgres::sql::finish_delete : detail::postgres::sql::finish_keep, p);
            if (!r.ok()) return db.error_of(r);
            if (r.integer(0, 0) == 1) {
                // Finished, the claim leaves the book; inside batch() only once
                // the batch commits, as this may yet be rolled back.
                if (token && state_->in_batch) state_->leases.finished_in_batch(id);
                else if (token) state_->leases.forget(id);
                return std::error_code{};
            }
            if (!r.integer(0, 1)) return token ? lost(id) : std::error_code{errc::not_found};
            return token ? lost(id) : std::error_code{errc::not_in_queue};
        });
    }

    /// Throws std::system_error when the server cannot answer (as every
    /// listing of this store does): an empty list would look like an empty queue.
    std::vector<queue_entry> outgoing_queue() const {
        std::vector<queue_entry> out;
        read_or_throw("outgoing_queue", [&](detail::postgres::connection& db) -> std::error_code {
            auto r = db.run(detail::postgres::sql::queue);
            if (!r.ok()) return db.error_of(r);
            out = entries(r);
            return {};
        });
        return out;
    }

    /// The queued messages due at `now`, in submit-time order, at most
    /// `limit`, without claiming them (what an administrator sees).
    std::vector<queue_entry> due_queue(time_point now, std::size_t limit) const {
        std::vector<queue_entry> out;
        read_or_throw("due_queue", [&](detail::postgres::connection& db) -> std::error_code {
            detail::postgres::params p;
            p.integer(detail::postgres::nanoseconds(now)).integer(static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
            auto r = db.run(detail::postgres::sql::due, p);
            if (!r.ok()) return db.error_of(r);
            out = entries(r);
            return {};
        });
        return out;
    }

    std::vector<message_id> contents(folder_id folder) const {
        std::vector<message_id> out;
        read_or_throw("contents", [&](detail::postgres::connection& db) -> std::error_code {
            detail::postgres::params p;
            p.integer(static_cast<std::int64_t>(folder));
            auto r = db.run(detail::postgres::sql::contents, p);
            if (!r.ok()) return db.error_of(r);
            for (int i = 0; i < r.rows(); ++i) out.push_back(message_id{static_cast<std::uint64_t>(r.integer(i, 0))});
            return {};
        });
        return out;
    }

    // --- Administration (docs/administration.md; AdministeredStore) --------

    /// Up to `limit` queued messages matching `f` with ids above `after`, in id
    /// order, read a chunk at a time. Throws std::system_error when the server
    /// cannot answer: an empty page would look like an empty queue.
    std::vector<basic_queued_message<message_type>> list_queue(const queue_filter& f, time_point now, message_id after,
                                                                std::size_t limit) const {
        return detail::list_matching<Payload>([&](message_id from, std::size_t n) { return queue_rows(from, n, false); }, f, now,
                                              after, limit);
    }

    /// One queued message: errc::not_found for an unknown id, errc::not_in_queue for one not queued.
    result<basic_queued_message<message_type>> inspect(message_id id, time_point now) const {
        auto rows = queue_rows(id, 1, true);
        if (!rows.empty()) return detail::listed<Payload>(std::move(rows.front()), now);
        std::error_code why;
        read_or_throw("inspect", [&](detail::postgres::connection& db) { return not_queued(db, id, why); });
        return why;
    }

    /// The queue's messages by state: one statement.
    queue_counts count_queue(time_point now) const {
        queue_counts out;
        read_or_throw("count_queue", [&](detail::postgres::connection& db) -> std::error_code {
            detail::postgres::params p;
            p.integer(detail::postgres::nanoseconds(now));
            auto r = db.run(detail::postgres::sql::count_queue, p);
            if (!r.ok()) return db.error_of(r);
            const auto n = [&](int c) { return static_cast<std::size_t>(r.integer(0, c)); };
            out = {n(0), n(4), n(3), n(2), n(1), n(5), n(6)};
            return {};
        });
        return out;
    }

    /// As the SQLite store's (AdministeredStore): applied at once; a hand-off
    /// running now completes, and the message is not attempted while held.
    result<admin_outcome> hold(message_id id, time_point now) {
        detail::postgres::params p;
        p.integer(key(id)).integer(detail::postgres::nanoseconds(now));
        return administer(id, detail::postgres::sql::hold, p, admin_outcome::applied);
    }

    /// Ends a hold: due at once, the time held added to held_for; spoolers are woken.
    result<admin_outcome> release(message_id id, time_point now) {
        detail::postgres::params p;
        p.integer(key(id)).integer(detail::postgres::nanoseconds(now)).text(state_->channel);
        return administer(id, detail::postgres::sql::release_hold, p, admin_outcome::applied);
    }

    /// Records `r` for a spooler (woken by a notification) to apply at the
    /// message's next pass; remove deletes the message at once unless a lease
    /// holds it (a hand-off may be running), and is requested then.
    result<admin_outcome> request(message_id id, admin_request r) {
        detail::postgres::params p;
        p.integer(key(id));
        if (r == admin_request::remove && !claim_of(id)) {
            auto removed = administer(id, detail::postgres::sql::remove, p, admin_outcome::applied);
            if (removed || removed.error() == errc::not_found) return removed;
            if (removed.error() != errc::not_in_queue) return removed.error();
            // Not deleted: a lease holds it (or it left the queue meanwhile, which the request finds).
        }
        p.integer(static_cast<std::int64_t>(r)).text(state_->channel);
        return administer(id, detail::postgres::sql::request, p, admin_outcome::requested);
    }

    // --- Waiting for a destination (docs/concepts/store.md) -----------------

    /// The messages `ids` wait for `destination`, which is down, until
    /// `until`: written on their queue rows only (not an attempt), one
    /// statement, each by the holder of its claim (fenced; a claim lost is
    /// left alone). Every process's claims then pass them over until `until`:
    /// the next attempt is the row's, not this process's. A held message, or
    /// one with a request, keeps its next attempt.
    std::error_code hold_back(const std::vector<message_id>& ids, const std::string& destination, time_point until) {
        std::vector<std::int64_t> claimed, fences;
        for (message_id id : ids)
            if (const auto claim = claim_of(id); claim && !claim->lost) {
                claimed.push_back(key(id));
                fences.push_back(claim->fence);
            }
        if (claimed.empty()) return {};
        return with_connection([&](detail::postgres::connection& db) -> std::error_code {
            detail::postgres::params p;
            p.text(detail::postgres::array_of(claimed))
                .text(detail::postgres::array_of(fences))
                .integer(detail::postgres::nanoseconds(until))
                .text(destination);
            auto r = db.run(detail::postgres::sql::hold_back, p);
            return r.ok() ? std::error_code{} : db.error_of(r);
        });
    }

    /// Every message waiting for `destination` is due at once (held ones stay
    /// held), and the spoolers of other processes are woken: one statement.
    std::error_code release_held_back(const std::string& destination) {
        return with_connection([&](detail::postgres::connection& db) -> std::error_code {
            detail::postgres::params p;
            p.text(destination).text(state_->channel);
            auto r = db.run(detail::postgres::sql::release_held_back, p);
            return r.ok() ? std::error_code{} : db.error_of(r);
        });
    }

    // --- The shared queue (docs/concepts/store.md, "A shared queue") -------

    /// Claims due messages (next attempt at or before `now`, not leased, or
    /// leased and expired), oldest first, at most min(limit, claim_batch):
    /// each is leased to this store object for options.lease and gets a new
    /// fencing token. What another claimer holds is skipped, not waited for.
    /// A failure claims nothing and throws std::system_error (the spooler
    /// pauses briefly and tries again).
    std::vector<queue_entry> claim_due(time_point now, std::size_t limit) {
        std::vector<queue_entry> out;
        read_or_throw("claim_due", [&](detail::postgres::connection& db) -> std::error_code {
            detail::postgres::params p;
            p.integer(detail::postgres::nanoseconds(now))
                .integer(static_cast<std::int64_t>(std::min(limit, state_->options.claim_batch)))
                .text(state_->options.owner)
                .integer(state_->options.lease.count());
            auto r = db.run(detail::postgres::sql::claim, p);
            if (!r.ok()) return db.error_of(r);
            // Columns: id, submit time, flags, held for, request, fence, sequence, body.
            std::vector<std::pair<std::int64_t, queue_entry>> claimed; // by (submit time, sequence)
            for (int i = 0; i < r.rows(); ++i) {
                const message_id id{static_cast<std::uint64_t>(r.integer(i, 0))};
                state_->leases.claimed(id, r.integer(i, 5));
                {
                    std::lock_guard g{state_->prefetch_mutex};
                    state_->prefetched[id] = r.bytes(i, 7);
                }
                claimed.push_back({r.integer(i, 6), entry_of(r, i)});
            }
            std::sort(claimed.begin(), claimed.end(), [](const auto& a, const auto& b) {
                return std::pair(a.second.client_submit_time, a.first) < std::pair(b.second.client_submit_time, b.first);
            });
            for (auto& [sequence, entry] : claimed) out.push_back(entry);
            return {};
        });
        return out;
    }

    /// The spooler's account at the end of a pass: it still has `in_hand` (its
    /// hand-offs run); every other claim of this store object is released, so
    /// that any process may claim the message when it is due. The leases kept
    /// are renewed once a third of the lease has passed since the last renewal;
    /// a lease found taken by another process stays known, marked lost, while
    /// it is in hand: its writes get errc::lease_lost (law Q3).
    std::error_code retain_leases(const std::vector<message_id>& in_hand) {
        const auto held = state_->leases.split(in_hand);
        const bool renew = !held.keep_ids.empty() && state_->leases.renewal_due(lease_renewal_interval());
        if (held.drop_ids.empty() && !renew) {
            state_->leases.forget(held.forget_ids);
            return {};
        }
        auto ec = with_connection([&](detail::postgres::connection& db) -> std::error_code {
            if (!held.drop_ids.empty()) {
                detail::postgres::params p;
                p.text(detail::postgres::array_of(held.drop_ids)).text(detail::postgres::array_of(held.drop_fences));
                auto r = db.run(detail::postgres::sql::release, p);
                if (!r.ok()) return db.error_of(r);
                state_->leases.forget(held.drop_ids);
            }
            state_->leases.forget(held.forget_ids);
            if (renew) {
                detail::postgres::params p;
                p.text(detail::postgres::array_of(held.keep_ids))
                    .text(detail::postgres::array_of(held.keep_fences))
                    .integer(state_->options.lease.count());
                auto r = db.run(detail::postgres::sql::renew, p);
                if (!r.ok()) return db.error_of(r);
                std::vector<std::int64_t> renewed;
                for (int i = 0; i < r.rows(); ++i) renewed.push_back(r.integer(i, 0));
                state_->leases.renewed(held.keep_ids, renewed);
            }
            return {};
        });
        std::lock_guard g{state_->prefetch_mutex}; // bodies of claims let go are not needed
        std::erase_if(state_->prefetched, [&](const auto& entry) { return !state_->leases.holds(entry.first); });
        return ec;
    }

    /// How often the spooler renews the leases of hand-offs in flight: a third of the lease.
    std::chrono::milliseconds lease_renewal_interval() const { return state_->options.lease / 3; }

    /// Whether another store object (another process's spooler) holds the
    /// message leased now. A client opening it gets errc::no_access. Throws
    /// std::system_error when the server cannot answer.
    bool leased_elsewhere(message_id id) const {
        if (auto claim = claim_of(id); claim && !claim->lost) return false;
        bool leased = false;
        read_or_throw("leased_elsewhere", [&](detail::postgres::connection& db) -> std::error_code {
            detail::postgres::params p;
            p.integer(key(id));
            auto r = db.run(detail::postgres::sql::leased, p);
            if (!r.ok()) return db.error_of(r);
            leased = r.rows() > 0;
            return {};
        });
        return leased;
    }

    /// Whether another process submitted (a notification came), or the poll
    /// interval passed: the idle spooler then claims what is due, which also
    /// finds the leases of processes that died.
    bool written_elsewhere() const { return state_->written_elsewhere(); }

    /// Runs f with every store operation it makes, from this thread, in one
    /// transaction. If the commit fails, or an operation fails with an error
    /// of the server, none of them happened, and that error is returned; if f
    /// throws, none of them happened either, and the exception passes on.
    template <class F>
    std::error_code batch(F&& f) {
        std::unique_lock g{state_->mutex};
        if (state_->in_batch) return (std::forward<F>(f)(), std::error_code{}); // nested: part of the outer one
        if (auto ec = state_->connect()) return ec;
        auto& db = state_->db;
        if (auto r = db.exec("BEGIN"); !r.ok()) return state_->failed(r);
        state_->in_batch = true;
        state_->batch_error = {};
        struct leave {
            state& s;
            ~leave() { s.in_batch = false; }
        } guard{*state_};
        try {
            std::forward<F>(f)();
        } catch (...) {
            db.exec("ROLLBACK");
            state_->leases.batch_ended(false);
            throw;
        }
        if (state_->batch_error) {
            db.exec("ROLLBACK");
            state_->leases.batch_ended(false);
            return state_->batch_error;
        }
        auto r = db.exec("COMMIT");
        state_->leases.batch_ended(r.ok());
        if (!r.ok()) return state_->failed(r);
        return {};
    }

    /// The store's own connection's last error text, from libpq or the server.
    std::string last_error() const {
        std::lock_guard g{state_->mutex};
        return state_->db.last_error();
    }

    /// How many times the store connected to the server (1 after open; more after reconnects).
    std::size_t connections_made() const {
        std::lock_guard g{state_->mutex};
        return state_->connections;
    }

    static constexpr int schema_version = detail::postgres::latest_schema;

private:
    struct state {
        std::string conninfo;
        postgres_options options;
        std::string channel; // NOTIFY's channel: one per schema, so that spools in other schemas are not woken
        mutable std::recursive_mutex mutex;
        detail::postgres::connection db;
        std::size_t connections = 0;
        bool in_batch = false;
        std::error_code batch_error;
        std::chrono::steady_clock::time_point retry_at{};
        std::chrono::milliseconds backoff{0};

        detail::lease_book leases; // this object's claims and their tokens
        // Bodies that came with claims, until their first load: while the
        // lease holds, nobody else writes them.
        std::mutex prefetch_mutex;
        std::map<message_id, std::string> prefetched;

        std::mutex listen_mutex;
        detail::postgres::connection listener;
        std::chrono::steady_clock::time_point polled = std::chrono::steady_clock::now();
        std::chrono::steady_clock::time_point listen_retry_at{};

        std::error_code open(const std::string& info, postgres_options opts) {
            conninfo = info;
            options = std::move(opts);
            if (options.owner.empty()) options.owner = detail::postgres::default_owner();
            if (options.lease.count() < 3) options.lease = std::chrono::milliseconds{3};
            std::lock_guard g{mutex};
            if (auto ec = connect()) return ec;
            if (auto ec = migrate()) return ec;
            auto r = db.exec("SELECT current_schema()");
            if (!r.ok() || r.rows() == 0) return failed(r);
            channel = "spool_" + r.bytes(0, 0);
            if (options.listen) {
                std::lock_guard l{listen_mutex};
                listen();
            }
            return {};
        }

        // Connects if not connected, unless the last attempt failed less than
        // the backoff ago (errc::store_unavailable then, without trying).
        std::error_code connect() {
            if (db.connected()) return {};
            const auto now = std::chrono::steady_clock::now();
            if (now < retry_at) return errc::store_unavailable;
            if (!db.open(conninfo) || !configure()) {
                backoff = std::clamp(backoff * 2, options.reconnect_min, options.reconnect_max);
                retry_at = now + backoff;
                db.close();
                return errc::store_unavailable;
            }
            backoff = std::chrono::milliseconds{0};
            ++connections;
            return {};
        }

        bool configure() {
            if (options.statement_timeout.count() == 0) return true;
            return db.exec("SET statement_timeout = " + std::to_string(options.statement_timeout.count())).ok();
        }

        std::error_code failed(const detail::postgres::result& r) {
            auto ec = db.error_of(r);
            if (!db.connected()) db.close(); // reconnect on the next call
            return ec;
        }

        // Judged under an advisory lock, inside the transaction that migrates:
        // processes that start together migrate once, and a foreign or newer
        // schema is left as it was.
        std::error_code migrate() {
            if (auto r = db.exec("BEGIN; SELECT pg_advisory_xact_lock(7368032)"); !r.ok()) return failed(r);
            auto ec = migrate_locked();
            if (ec) {
                db.exec("ROLLBACK");
                return ec;
            }
            if (auto r = db.exec("COMMIT"); !r.ok()) return failed(r);
            return {};
        }
        std::error_code migrate_locked() {
            auto tables = db.exec("SELECT to_regclass('spool_schema') IS NOT NULL, to_regclass('spool_messages') IS NOT NULL,"
                                  " to_regclass('spool_queue') IS NOT NULL");
            if (!tables.ok()) return failed(tables);
            const bool has_schema = tables.bytes(0, 0) == "t";
            int version = 0;
            if (!has_schema) {
                if (tables.bytes(0, 1) == "t" || tables.bytes(0, 2) == "t") return errc::not_a_spool_store;
                if (!options.create) return errc::not_a_spool_store;
                auto r = db.exec("CREATE TABLE spool_schema (application text NOT NULL, version integer NOT NULL);"
                                 "INSERT INTO spool_schema VALUES ('spool', 0)");
                if (!r.ok()) return failed(r);
            } else {
                auto r = db.exec("SELECT application, version FROM spool_schema");
                if (!r.ok()) return errc::not_a_spool_store; // a table of that name with other columns
                if (r.rows() != 1) return errc::invalid_schema;
                if (r.bytes(0, 0) != "spool") return errc::not_a_spool_store;
                version = std::stoi(r.bytes(0, 1));
                if (version < 0 || (version == 0 && (tables.bytes(0, 1) == "t" || tables.bytes(0, 2) == "t")))
                    return errc::invalid_schema;
                if (version > detail::postgres::latest_schema) return errc::schema_too_new;
            }
            for (int v = version; v < detail::postgres::latest_schema; ++v)
                if (auto r = db.exec(std::string(detail::postgres::migrations[v])); !r.ok()) return failed(r);
            if (version != detail::postgres::latest_schema)
                if (auto r = db.exec("UPDATE spool_schema SET version = " + std::to_string(detail::postgres::latest_schema)); !r.ok())
                    return failed(r);
            return {};
        }

        // Under listen_mutex.
        void listen() {
            if (!listener.open(conninfo)) return;
            char* quoted = PQescapeIdentifier(listener.native(), channel.c_str(), channel.size());
            if (!quoted || !listener.exec(std::string("LISTEN ") + quoted).ok()) listener.close();
            PQfreemem(quoted);
        }

        bool written_elsewhere() {
            const auto now = std::chrono::steady_clock::now();
            bool woken = false;
            if (options.listen) {
                std::lock_guard l{listen_mutex};
                if (!listener.connected() && now >= listen_retry_at) {
                    listen();
                    listen_retry_at = now + options.reconnect_max;
                    woken = true; // submits while it was down went unheard: look once
                }
                if (listener.connected()) {
                    PQconsumeInput(listener.native());
                    // This process's own submits wake its spooler directly.
                    while (PGnotify* n = PQnotifies(listener.native())) {
                        if (n->be_pid != own_backend.load()) woken = true;
                        PQfreemem(n);
                    }
                }
            }
            if (now - polled >= options.poll_interval) woken = true;
            if (woken) polled = now;
            return woken;
        }
        std::atomic<int> own_backend{0}; // the server process of `db`, whose notifications are our own
    };

    explicit basic_postgres_store(std::shared_ptr<state> s) : state_(std::move(s)) {}

    static std::int64_t key(message_id id) { return static_cast<std::int64_t>(id); }

    result<message_id> insert(folder_id folder, const message_type& m, bool queued) {
        const auto body = encode(m);
        std::int64_t id = 0;
        auto ec = with_connection([&](detail::postgres::connection& db) -> std::error_code {
            detail::postgres::params p;
            p.integer(static_cast<std::int64_t>(folder)).bytes(body);
            if (queued) queue_columns(p, m).text(state_->channel);
            auto r = db.run(queued ? detail::postgres::sql::create_queued : detail::postgres::sql::create, p);
            if (!r.ok()) return db.error_of(r);
            id = r.integer(0, 0);
            return {};
        });
        if (ec) return ec;
        return message_id{static_cast<std::uint64_t>(id)};
    }

    static detail::postgres::params& queue_columns(detail::postgres::params& p, const message_type& m) {
        return p.integer(detail::postgres::nanoseconds(m.client_submit_time.value_or(time_point{})))
            .integer(static_cast<std::int64_t>(m.submission & ~submit_flags::locked))
            .integer(detail::postgres::nanoseconds(next_attempt(m)));
    }

    static std::vector<queue_entry> entries(const detail::postgres::result& r) {
        std::vector<queue_entry> out;
        out.reserve(static_cast<std::size_t>(r.rows()));
        for (int i = 0; i < r.rows(); ++i) out.push_back(entry_of(r, i));
        return out;
    }
    // A row's id, submit time, flags, held for and request, its first five columns.
    static queue_entry entry_of(const detail::postgres::result& r, int i) {
        return {message_id{static_cast<std::uint64_t>(r.integer(i, 0))}, detail::postgres::from_nanoseconds(r.integer(i, 1)),
                static_cast<submit_flags>(r.integer(i, 2)), std::chrono::nanoseconds{r.integer(i, 3)},
                static_cast<admin_request>(r.integer(i, 4))};
    }

    // The rows listings show: the one with id `from` (`exactly`), or up to n with ids above it.
    std::vector<detail::queue_row> queue_rows(message_id from, std::size_t n, bool exactly) const {
        std::vector<detail::queue_row> rows;
        read_or_throw("listing the queue", [&](detail::postgres::connection& db) -> std::error_code {
            detail::postgres::params p;
            p.integer(key(from)).integer(static_cast<std::int64_t>(std::min<std::size_t>(n, INT64_MAX)));
            auto r = db.run(exactly ? detail::postgres::sql::queue_row : detail::postgres::sql::queue_rows, p);
            if (!r.ok()) return db.error_of(r);
            for (int i = 0; i < r.rows(); ++i) {
                detail::queue_row& row = rows.emplace_back();
                row.id = message_id{static_cast<std::uint64_t>(r.integer(i, 0))};
                row.submit_time = detail::postgres::from_nanoseconds(r.integer(i, 1));
                row.body = r.bytes(i, 2);
                if (!r.is_null(i, 3)) row.held_since = detail::postgres::from_nanoseconds(r.integer(i, 3));
                row.held_for = std::chrono::nanoseconds{r.integer(i, 4)};
                row.request = static_cast<admin_request>(r.integer(i, 5));
                row.next_attempt = detail::postgres::from_nanoseconds(r.integer(i, 6));
                row.leased = r.integer(i, 7) != 0 || claim_of(row.id).has_value();
                if (row.leased && !r.is_null(i, 8)) row.lease_owner = r.bytes(i, 8);
                if (!r.is_null(i, 9)) row.waiting_for = r.bytes(i, 9);
            }
            return {};
        });
        return rows;
    }

    // An administrative statement that returns a row when the message is
    // queued: then `applied`; else errc::not_in_queue or not_found.
    result<admin_outcome> administer(message_id id, const detail::postgres::statement& st, detail::postgres::params& p,
                                     admin_outcome done) {
        auto ec = with_connection([&](detail::postgres::connection& db) -> std::error_code {
            auto r = db.run(st, p);
            if (!r.ok()) return db.error_of(r);
            if (r.rows() > 0) return {};
            std::error_code why;
            if (auto ec = not_queued(db, id, why)) return ec;
            return why;
        });
        if (ec) return ec;
        return done;
    }
    // Why a message the queue does not hold is not there (errc::not_in_queue,
    // or not_found), into `why`; returns the server's error if it cannot tell.
    static std::error_code not_queued(detail::postgres::connection& db, message_id id, std::error_code& why) {
        detail::postgres::params p;
        p.integer(key(id));
        auto r = db.run(detail::postgres::sql::message_exists, p);
        if (!r.ok()) return db.error_of(r);
        why = r.rows() > 0 ? errc::not_in_queue : errc::not_found;
        return {};
    }

    std::optional<detail::lease_book::claim> claim_of(message_id id) const { return state_->leases.find(id); }
    bool take_prefetched(message_id id, std::string& body) const {
        std::lock_guard g{state_->prefetch_mutex};
        auto it = state_->prefetched.find(id);
        if (it == state_->prefetched.end()) return false;
        body = std::move(it->second);
        state_->prefetched.erase(it);
        return true;
    }
    // The claim stays known, marked lost, until the spooler gives it up: a
    // later write by this object must be refused too, not made as if it had
    // never claimed the message.
    std::error_code lost(message_id id) const {
        state_->leases.lost(id);
        return errc::lease_lost;
    }

    template <class F>
    void read_or_throw(const char* what, F&& f) const {
        if (auto ec = with_connection(std::forward<F>(f)))
            throw std::system_error(ec, std::string("spool: PostgreSQL store: ") + what + " failed: " + last_error());
    }

    // One operation on the connection, connected first. Inside batch() it is
    // part of that transaction (the first error of the server ends it);
    // otherwise its one statement is its own transaction.
    template <class F>
    std::error_code with_connection(F&& f) const {
        std::lock_guard g{state_->mutex};
        if (state_->in_batch && state_->batch_error) return state_->batch_error;
        if (auto ec = state_->connect()) return ec;
        state_->own_backend.store(PQbackendPID(state_->db.native()));
        std::error_code ec = f(state_->db);
        if (ec && (ec.category() != spool_category() || ec == errc::store_unavailable)) {
            if (!state_->db.connected()) {
                state_->db.close(); // reconnect on the next call
                ec = errc::store_unavailable;
            }
            if (state_->in_batch) state_->batch_error = ec;
        }
        return ec;
    }

    std::shared_ptr<state> state_;
};

using postgres_store = basic_postgres_store<>;

} // namespace spool
