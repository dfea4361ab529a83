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
#include <spool/postgres/detail/kept_creates.hpp>
#include <spool/postgres/detail/queue_session.hpp>
#include <spool/postgres/detail/schema.hpp>
#include <spool/postgres/detail/sql.hpp>
#include <spool/postgres/error.hpp>
#include <spool/result.hpp>
#include <spool/stores/detail/durable_queue.hpp>
#include <spool/stores/detail/lease_book.hpp>
#include <spool/stores/detail/loaded_message.hpp>
#include <spool/stores/detail/queue_columns.hpp>
#include <spool/stores/detail/action_rows.hpp>
#include <spool/stores/detail/suppression_rows.hpp>
#include <spool/stores/detail/queue_listing.hpp>
#include <spool/stores/detail/returned_rows.hpp>
#include <spool/store_capabilities.hpp>
#include <spool/tags.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <span>
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
    /// How often a spooler vacuums the queue table itself, at the end of a
    /// pass, one process at a time (an advisory lock; skipped while another
    /// does). Every message leaves dead queue rows, and autovacuum looks only
    /// once a minute by default (autovacuum_naptime): between its runs the
    /// dead rows piled up, and the queue's indexes grew for a whole soak
    /// (docs/postgres-store.md, "Bloat"). 0: leave it to autovacuum.
    std::chrono::milliseconds vacuum_interval{10000};
};

namespace detail::postgres {

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
    /// Inside batch(), the id is reserved and returned at once, and the rows
    /// are written with the batch's other creates, in one statement, before
    /// the batch's next other operation or its commit: a batch of sends costs
    /// a round trip per batch, not per message.
    result<message_id> create_queued(folder_id folder, const message_type& m) {
        std::lock_guard g{state_->mutex};
        if (!state_->in_batch) return insert(folder, m, true);
        auto ids = keep_creates(folder, std::span<const message_type>(&m, 1));
        if (!ids) return ids.error();
        return ids->front();
    }

    /// Creates the messages `ms` submitted and queued, in their order, in one
    /// durable step: all of them, or (on an error) none
    /// (BulkQueuedCreateStore). Their ids come from one reservation, and
    /// their rows from a statement per up to 1,024 messages or 64 MiB of bodies.
    result<std::vector<message_id>> create_queued(folder_id folder, std::span<const message_type> ms) {
        result<std::vector<message_id>> ids = std::vector<message_id>{};
        if (ms.empty()) return ids;
        if (auto ec = batch([&] { ids = keep_creates(folder, ms); })) return ec;
        return ids;
    }

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
        return detail::loaded_message<Payload>(id, body, [&](message_id bad) {
            with_connection([&](detail::postgres::connection& db) -> std::error_code {
                detail::postgres::params p;
                p.integer(key(bad)).integer(static_cast<std::int64_t>(folders::quarantine));
                db.run(detail::postgres::sql::quarantine, p);
                return {};
            });
        });
    }

public:
    std::error_code save(message_id id, const message_type& m) { return queue().save(id, m); }

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
            if (r.flag("written")) return {};
            return r.flag("message_exists") ? errc::already_submitted : errc::not_found;
        });
    }

    /// Takes the message out of the queue as a draft. errc::unable_to_abort
    /// while another store object (another process's spooler) holds it
    /// leased. This object's own live claim does not stop it (law Q6): its
    /// spooler has not handed the message off, or the client's in-process
    /// lock would have refused first.
    std::error_code abort_submit(message_id id, const message_type& m) {
        const auto body = encode(m);
        const auto held = queue().token(id);
        const std::int64_t fence = held && *held ? **held : -1;
        return with_connection([&](detail::postgres::connection& db) -> std::error_code {
            detail::postgres::params p;
            p.integer(key(id)).bytes(body).integer(fence);
            auto r = db.run(detail::postgres::sql::abort_submit, p);
            if (!r.ok()) return db.error_of(r);
            if (r.flag("written")) return {};
            if (!r.flag("message_exists")) return errc::not_found;
            return r.flag("queued") ? errc::unable_to_abort : errc::not_in_queue;
        });
    }

    std::error_code finish(message_id id, const message_type& m) { return queue().finish(id, m); }

    /// Many finish() in one statement (a few for large bodies), each applied
    /// or refused as finish() alone would be (BulkFinishStore): a spooler's
    /// finished messages of a pass cost one round trip, not one each.
    std::vector<std::error_code> finish(std::span<const finishing<message_type>> fs) {
        std::vector<std::error_code> out(fs.size());
        std::size_t next = 0;
        while (next < fs.size()) {
            // A chunk: up to 64 MiB of bodies, at least one message.
            std::vector<std::size_t> at;
            std::vector<std::int64_t> ids, fences, folders, removes;
            std::vector<std::string> bodies;
            std::size_t bytes = 0;
            for (; next < fs.size() && (at.empty() || bytes < detail::postgres::kept_creates::chunk_bytes); ++next) {
                const message_type& m = *fs[next].message;
                const auto token = queue().token(fs[next].id);
                if (!token) {
                    out[next] = token.error();
                    continue;
                }
                const bool deleted = std::holds_alternative<disposition::delete_after_submit>(m.sent_mail);
                const auto* move = std::get_if<disposition::move_to>(&m.sent_mail);
                at.push_back(next);
                ids.push_back(key(fs[next].id));
                fences.push_back(token->value_or(-1));
                bodies.push_back(deleted ? std::string{} : encode(m));
                folders.push_back(move ? static_cast<std::int64_t>(move->folder) : -1);
                removes.push_back(deleted ? 1 : 0);
                bytes += bodies.back().size();
            }
            if (at.empty()) continue;
            auto ec = with_connection([&](detail::postgres::connection& db) -> std::error_code {
                detail::postgres::params p;
                p.integers(ids).integers(fences).byte_strings(bodies).integers(folders).integers(removes);
                auto r = db.run(detail::postgres::sql::finish_all, p);
                if (!r.ok()) return db.error_of(r);
                const int written = r.column("written"), exists = r.column("message_exists");
                for (int row = 0; row < r.rows() && static_cast<std::size_t>(row) < at.size(); ++row) {
                    const std::size_t i = at[static_cast<std::size_t>(row)];
                    const std::int64_t fence = fences[static_cast<std::size_t>(row)];
                    out[i] = queue().finished(fs[i].id, fence >= 0 ? std::optional{fence} : std::nullopt,
                                              {r.integer(row, written) != 0, r.integer(row, exists) != 0});
                }
                return {};
            });
            if (ec)
                for (std::size_t i : at) out[i] = ec;
        }
        return out;
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
            p.integer(detail::stored_nanoseconds(now)).integer(static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
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
        return queue().template list<Payload>(f, now, after, limit);
    }

    /// One queued message: errc::not_found for an unknown id, errc::not_in_queue for one not queued.
    result<basic_queued_message<message_type>> inspect(message_id id, time_point now) const {
        return queue().template inspect<Payload>(id, now);
    }

    /// The queue's messages by state: one statement, grouped by the row's
    /// state (sql::count_by_state).
    queue_counts count_queue(time_point now) const { return queue().count(now); }

    // --- The suppression list (docs/suppression.md; SuppressionListStore) ---
    // One table for every spooler and client on the database.

    /// Adds `e`, or replaces the entry for its address.
    std::error_code suppress(const suppression_entry& e) {
        return with_connection([&](detail::postgres::connection& db) -> std::error_code {
            detail::postgres::params p;
            p.text(e.address).text(e.reason).text(e.diagnostic).integer(detail::stored_nanoseconds(e.added))
                .integer(detail::stored_expiry(e)).integer(key(e.source));
            auto r = db.run(detail::postgres::sql::suppress, p);
            return r.ok() ? std::error_code{} : db.error_of(r);
        });
    }

    /// The entry for `address` (a suppression_key), unless it has expired by `now`: one read of the primary key.
    result<std::optional<suppression_entry>> find_suppression(std::string_view address, time_point now) const {
        std::optional<suppression_entry> found;
        auto ec = with_connection([&](detail::postgres::connection& db) -> std::error_code {
            detail::postgres::params p;
            p.text(std::string(address)).integer(detail::stored_nanoseconds(now));
            auto r = db.run(detail::postgres::sql::find_suppression, p);
            if (!r.ok()) return db.error_of(r);
            if (r.rows() > 0) found = detail::suppression_columns(detail::postgres::row(r, 0)).read(detail::postgres::row(r, 0));
            return {};
        });
        if (ec) return ec;
        return found;
    }

    /// Removes the entry for `address`: errc::not_found when there is none.
    std::error_code unsuppress(std::string_view address) {
        return with_connection([&](detail::postgres::connection& db) -> std::error_code {
            detail::postgres::params p;
            p.text(std::string(address));
            auto r = db.run(detail::postgres::sql::unsuppress, p);
            if (!r.ok()) return db.error_of(r);
            return r.flag("removed") ? std::error_code{} : make_error_code(errc::not_found);
        });
    }

    /// Up to `limit` live entries with addresses above `after`, in address order.
    result<std::vector<suppression_entry>> list_suppressions(std::string_view after, std::size_t limit, time_point now) const {
        std::vector<suppression_entry> page;
        auto ec = with_connection([&](detail::postgres::connection& db) -> std::error_code {
            detail::postgres::params p;
            p.text(std::string(after)).integer(detail::stored_nanoseconds(now))
                .integer(static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
            auto r = db.run(detail::postgres::sql::list_suppressions, p);
            if (!r.ok()) return db.error_of(r);
            if (r.rows() == 0) return {};
            const detail::suppression_columns columns(detail::postgres::row(r, 0));
            for (int i = 0; i < r.rows(); ++i) page.push_back(columns.read(detail::postgres::row(r, i)));
            return {};
        });
        if (ec) return ec;
        return page;
    }

    /// How many entries are live at `now`.
    result<std::size_t> count_suppressions(time_point now) const {
        std::size_t n = 0;
        auto ec = with_connection([&](detail::postgres::connection& db) -> std::error_code {
            detail::postgres::params p;
            p.integer(detail::stored_nanoseconds(now));
            auto r = db.run(detail::postgres::sql::count_suppressions, p);
            if (!r.ok()) return db.error_of(r);
            n = static_cast<std::size_t>(r.integer(0, 0));
            return {};
        });
        if (ec) return ec;
        return n;
    }

    // --- Returned reports kept for later (docs/returned-reports.md; ReportBacklogStore) ---

    std::error_code keep_returned(const returned_report& report) {
        const std::string recipients = detail::encode_returned_recipients(report.recipients); // bytes() does not copy
        return with_connection([&](detail::postgres::connection& db) -> std::error_code {
            detail::postgres::params p;
            p.integer(key(report.original)).bytes(report.reporting_mta).bytes(recipients);
            auto r = db.run(detail::postgres::sql::keep_returned, p);
            return r.ok() ? std::error_code{} : db.error_of(r);
        });
    }

    /// Up to `limit` kept reports, oldest first.
    result<std::vector<kept_report>> returned_backlog(std::size_t limit) const {
        std::vector<kept_report> kept;
        auto ec = with_connection([&](detail::postgres::connection& db) -> std::error_code {
            detail::postgres::params p;
            p.integer(static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
            auto r = db.run(detail::postgres::sql::returned_backlog, p);
            if (!r.ok()) return db.error_of(r);
            for (int i = 0; i < r.rows(); ++i)
                kept.push_back({r.integer(i, 0),
                                {message_id{static_cast<std::uint64_t>(r.integer(i, 1))}, r.bytes(i, 2),
                                 detail::decode_returned_recipients(r.bytes(i, 3))}});
            return {};
        });
        if (ec) return ec;
        return kept;
    }

    std::error_code forget_returned(std::int64_t kept) {
        return with_connection([&](detail::postgres::connection& db) -> std::error_code {
            detail::postgres::params p;
            p.integer(kept);
            auto r = db.run(detail::postgres::sql::forget_returned, p);
            return r.ok() ? std::error_code{} : db.error_of(r);
        });
    }

    // --- The action log (docs/web.md; ActionLogStore) -----------------------

    /// Adds `a` with the next key.
    std::error_code log_action(const logged_action& a) {
        return with_connection([&](detail::postgres::connection& db) -> std::error_code {
            detail::postgres::params p; // bytes() keeps a view: `a` outlives the call
            p.integer(detail::stored_nanoseconds(a.at)).bytes(a.who).bytes(a.action).bytes(a.target)
                .integer(detail::stored_count(a.done)).integer(detail::stored_count(a.refused)).integer(detail::stored_count(a.skipped));
            auto r = db.run(detail::postgres::sql::log_action, p);
            return r.ok() ? std::error_code{} : db.error_of(r);
        });
    }

    /// Up to `limit` entries with keys below `before` (0: from the newest), newest first.
    result<std::vector<logged_action>> action_log(std::int64_t before, std::size_t limit) const {
        std::vector<logged_action> page;
        auto ec = with_connection([&](detail::postgres::connection& db) -> std::error_code {
            detail::postgres::params p;
            p.integer(before > 0 ? before : INT64_MAX).integer(static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
            auto r = db.run(detail::postgres::sql::action_log, p);
            if (!r.ok()) return db.error_of(r);
            for (int i = 0; i < r.rows(); ++i) page.push_back(detail::action_columns::read(detail::postgres::row(r, i)));
            return {};
        });
        if (ec) return ec;
        return page;
    }

    /// Removes the entries logged before `before`: one statement through the log's time index.
    result<std::size_t> forget_actions(time_point before) {
        std::size_t removed = 0;
        auto ec = with_connection([&](detail::postgres::connection& db) -> std::error_code {
            detail::postgres::params p;
            p.integer(detail::stored_nanoseconds(before));
            auto r = db.run(detail::postgres::sql::forget_actions, p);
            if (!r.ok()) return db.error_of(r);
            removed = static_cast<std::size_t>(r.integer(0, 0));
            return {};
        });
        if (ec) return ec;
        return removed;
    }

    /// As the SQLite store's (AdministeredStore): applied at once; a hand-off
    /// running now completes, and the message is not attempted while held.
    result<admin_outcome> hold(message_id id, time_point now) { return queue().hold(id, now); }

    /// Ends a hold: due at once, the time held added to held_for; spoolers are woken.
    result<admin_outcome> release(message_id id, time_point now) { return queue().release(id, now); }

    /// Records `r` for a spooler (woken by a notification) to apply at the
    /// message's next pass; remove deletes the message at once unless a lease
    /// holds it (a hand-off may be running), and is requested then.
    result<admin_outcome> request(message_id id, admin_request r) { return queue().request(id, r); }

    // --- Waiting for a destination (docs/concepts/store.md) -----------------

    /// The messages `ids` wait for `destination`, which is down, until
    /// `until`: written on their queue rows only (not an attempt), one
    /// statement, each by the holder of its claim (fenced; a claim lost is
    /// left alone). Every process's claims then pass them over until `until`:
    /// the next attempt is the row's, not this process's. A held message, or
    /// one with a request, keeps its next attempt.
    std::error_code hold_back(const std::vector<message_id>& ids, const std::string& destination, time_point until) {
        return queue().hold_back(ids, destination, until);
    }

    /// Every message waiting for `destination` is due at once (held ones stay
    /// held), and the spoolers of other processes are woken: one statement.
    std::error_code release_held_back(const std::string& destination) { return queue().release_held_back(destination); }

    // --- The shared queue (docs/concepts/store.md, "A shared queue") -------

    /// Claims due messages (next attempt at or before `now`, not leased, or
    /// leased and expired), oldest first, at most min(limit, claim_batch):
    /// each is leased to this store object for options.lease and gets a new
    /// fencing token. What another claimer holds is skipped, not waited for.
    /// A failure claims nothing and throws std::system_error (the spooler
    /// pauses briefly and tries again).
    std::vector<queue_entry> claim_due(time_point now, std::size_t limit) {
        std::vector<queue_entry> out;
        for (auto& row : queue().claim(now, std::min(limit, state_->options.claim_batch))) {
            {
                std::lock_guard g{state_->prefetch_mutex};
                state_->prefetched[row.entry.id] = std::move(*row.body);
            }
            out.push_back(std::move(row.entry));
        }
        return out;
    }

    /// The spooler's account at the end of a pass: it still has `in_hand` (its
    /// hand-offs run); every other claim of this store object is released, so
    /// that any process may claim the message when it is due. The leases kept
    /// are renewed once a third of the lease has passed since the last renewal;
    /// a lease found taken by another process stays known, marked lost, while
    /// it is in hand: its writes get errc::lease_lost (law Q3).
    std::error_code retain_leases(const std::vector<message_id>& in_hand) {
        auto ec = queue().account(in_hand, lease_renewal_interval());
        {
            std::lock_guard g{state_->prefetch_mutex}; // bodies of claims let go are not needed
            std::erase_if(state_->prefetched, [&](const auto& entry) { return !state_->leases.holds(entry.first); });
        }
        if (!ec) vacuum_if_due();
        return ec;
    }

    /// The fewest messages a claim asks for: a claim is a transaction and a
    /// commit on the server (detail::durable_claim_floor).
    std::size_t claim_floor() const noexcept { return detail::durable_claim_floor; }

    /// How often the spooler renews the leases of hand-offs in flight: a third of the lease.
    std::chrono::milliseconds lease_renewal_interval() const { return state_->options.lease / 3; }

    /// Other processes' spoolers may share this queue: always.
    bool shares_queue() const noexcept { return true; }

    /// Claims the queued message `id` for this store object, as claim_due
    /// does, while no live lease holds it (MessageClaimStore): one statement,
    /// which waits for a claim that has the row locked and then finds its lease.
    result<bool> claim(message_id id) { return queue().claim(id); }

    /// Ends this object's claim on `id` (the lease, at once).
    std::error_code release_claim(message_id id) { return queue().release_claim(id); }

    /// Whether another store object (another process's spooler) holds the
    /// message leased now. A client opening it gets errc::no_access. Throws
    /// std::system_error when the server cannot answer.
    bool leased_elsewhere(message_id id) const { return queue().leased_elsewhere(id); }

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
            state_->creates.clear();
            state_->leases.batch_ended(false);
            throw;
        }
        with_connection([](detail::postgres::connection&) { return std::error_code{}; }); // the creates kept, written
        if (state_->batch_error) {
            db.exec("ROLLBACK");
            state_->creates.clear();
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
        std::chrono::steady_clock::time_point vacuumed = std::chrono::steady_clock::now();
        std::chrono::milliseconds vacuum_wait{0}; // options.vacuum_interval, or more while vacuums cannot clean

        detail::postgres::kept_creates creates; // inside batch(): created, not yet written
        std::deque<std::int64_t> reserved_ids;   // taken from the sequence, not yet used

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

    // What a queue row holds of a message when it is queued.
    static detail::postgres::queued_row queued_columns(const message_type& m) {
        return {detail::stored_nanoseconds(m.client_submit_time.value_or(time_point{})),
                static_cast<std::int64_t>(m.submission & ~submit_flags::locked), detail::stored_nanoseconds(next_attempt(m))};
    }
    static detail::postgres::params& queue_columns(detail::postgres::params& p, const message_type& m) {
        const auto q = queued_columns(m);
        return p.integer(q.submit_time).integer(q.submit_flags).integer(q.next_attempt);
    }

    static std::vector<queue_entry> entries(const detail::postgres::result& r) {
        const detail::entry_columns entry(detail::postgres::row(r, 0));
        std::vector<queue_entry> out;
        out.reserve(static_cast<std::size_t>(r.rows()));
        for (int i = 0; i < r.rows(); ++i) out.push_back(entry.read(detail::postgres::row(r, i)));
        return out;
    }

    bool take_prefetched(message_id id, std::string& body) const {
        std::lock_guard g{state_->prefetch_mutex};
        auto it = state_->prefetched.find(id);
        if (it == state_->prefetched.end()) return false;
        body = std::move(it->second);
        state_->prefetched.erase(it);
        return true;
    }
    // options.vacuum_interval: VACUUM cannot run inside a transaction, so
    // never inside batch(); a failure (a role that does not own the table
    // gets a warning, not an error) changes nothing for the pass.
    // A vacuum that leaves many dead rows behind (a transaction holds them
    // back) could not help and only costs: the next waits twice as long, up
    // to eight intervals, until one cleans again.
    void vacuum_if_due() const {
        const auto now = std::chrono::steady_clock::now();
        const auto base = state_->options.vacuum_interval;
        if (base.count() <= 0) return;
        std::lock_guard g{state_->mutex};
        if (state_->in_batch || now - state_->vacuumed < std::max(base, state_->vacuum_wait)) return;
        state_->vacuumed = now;
        with_connection([&](detail::postgres::connection& db) -> std::error_code {
            auto locked = db.run(detail::postgres::sql::try_vacuum_lock);
            if (!locked.ok() || !locked.flag("locked")) return {};
            db.exec("VACUUM (SKIP_LOCKED) spool_queue");
            auto left = db.run(detail::postgres::sql::dead_queue_rows);
            db.run(detail::postgres::sql::vacuum_unlock);
            const bool held_back = left.ok() && left.rows() > 0 && left.integer(0, left.column("dead")) > detail::postgres::sql::vacuum_threshold;
            state_->vacuum_wait = held_back ? std::min(std::max(base, state_->vacuum_wait) * 2, base * 8) : base;
            return {};
        });
    }

    // The queue's rules (detail::durable_queue) over this store's statements
    // (detail::postgres::queue_session) and connection.
    struct queue_driver {
        const basic_postgres_store* store;
        detail::lease_book& leases() const { return store->state_->leases; }
        std::chrono::milliseconds lease() const { return store->state_->options.lease; }
        template <class F>
        std::error_code write(F&& f) const {
            return store->with_connection([&](detail::postgres::connection& db) {
                detail::postgres::queue_session s{db, store->state_->channel, store->state_->options.owner};
                return f(s);
            });
        }
        template <class F>
        std::error_code read(F&& f) const {
            return write(std::forward<F>(f));
        }
        bool in_batch() const {
            std::lock_guard g{store->state_->mutex}; // held by a batch under way, for its whole run
            return store->state_->in_batch;
        }
        bool fenced() const { return true; }
        [[noreturn]] void fail(std::error_code ec, const char* what) const {
            throw std::system_error(ec, std::string("spool: PostgreSQL store: ") + what + ": " + store->last_error());
        }
    };
    detail::durable_queue<queue_driver> queue() const { return detail::durable_queue<queue_driver>{queue_driver{this}}; }

    template <class F>
    void read_or_throw(const char* what, F&& f) const {
        if (auto ec = with_connection(std::forward<F>(f)))
            throw std::system_error(ec, std::string("spool: PostgreSQL store: ") + what + " failed: " + last_error());
    }

    // One operation on the connection, connected first. Inside batch() it is
    // part of that transaction (the first error of the server ends it), and
    // the creates kept so far are written first, so that it finds them;
    // otherwise its one statement is its own transaction.
    template <class F>
    std::error_code with_connection(F&& f) const {
        return on_connection([&](detail::postgres::connection& db) -> std::error_code {
            if (auto ec = write_creates(db)) return ec;
            return f(db);
        });
    }

    // Inside batch(): ids reserved for `ms` (a round trip per id_block), their
    // rows kept for the next write_creates.
    result<std::vector<message_id>> keep_creates(folder_id folder, std::span<const message_type> ms) {
        std::vector<message_id> ids;
        auto ec = on_connection([&](detail::postgres::connection& db) -> std::error_code {
            auto& reserved = state_->reserved_ids;
            if (reserved.size() < ms.size()) {
                detail::postgres::params p;
                p.integer(static_cast<std::int64_t>(std::max(ms.size() - reserved.size(), detail::postgres::id_block)));
                auto r = db.run(detail::postgres::sql::reserve_ids, p);
                if (!r.ok()) return db.error_of(r);
                for (int i = 0; i < r.rows(); ++i) reserved.push_back(r.integer(i, 0));
            }
            for (const message_type& m : ms) {
                const std::int64_t id = reserved.front();
                reserved.pop_front();
                state_->creates.add(id, static_cast<std::int64_t>(folder), encode(m), queued_columns(m));
                ids.push_back(message_id{static_cast<std::uint64_t>(id)});
            }
            return {};
        });
        if (ec) return ec;
        return ids;
    }

    // The creates kept in this batch, written: one statement per chunk.
    std::error_code write_creates(detail::postgres::connection& db) const {
        auto& creates = state_->creates;
        for (auto chunk = creates.next_chunk(); chunk.size; chunk = creates.next_chunk()) {
            detail::postgres::params p;
            creates.bind(chunk, p).text(state_->channel);
            auto r = db.run(detail::postgres::sql::create_queued_all, p);
            if (!r.ok()) {
                creates.clear();
                return db.error_of(r);
            }
        }
        creates.clear();
        return {};
    }

    template <class F>
    std::error_code on_connection(F&& f) const {
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
