#pragma once

// A durable Store in an SQLite database: the embedded default for store and
// forward. Link the spool::sqlite CMake target.
//
// Durability contract:
// - When an operation returns success, its effect is on disk: the database is
//   in WAL mode with synchronous=FULL (configurable), and every operation is
//   one transaction. A crash loses nothing that was acknowledged.
// - The spooler's lock is never stored, so after a restart every queued
//   message is eligible again, in submit-time order; a message still flagged
//   for preprocessing is preprocessed again; deferred recipients keep their
//   next attempt; recipients recorded as sent are never transmitted again, and
//   recipients that were in flight are transmitted again (at-least-once, each
//   time with the same transmission::delivery_key).
// - Group commit: concurrent writers share one transaction and one fsync (the
//   first becomes the leader and commits for everyone waiting), and batch()
//   makes many operations from one thread a single transaction.
// - A message that can no longer be decoded, or whose checksum does not
//   match, is moved to folders::quarantine and leaves the queue; load()
//   reports errc::corrupt_message. One in a newer spool's format is left as it
//   is (errc::format_too_new). A message too large is refused before anything
//   is written (errc::message_too_large).
// - A database written by a newer spool, by another application, damaged, or
//   with a schema version no spool wrote, is refused (errc::schema_too_new,
//   not_a_spool_store, damaged_store, invalid_schema) and left untouched.
// - One spooler per database by default: the first run takes lock_spooler()'s
//   lock for the spooler's life; clients in other processes may send, and the
//   running spooler notices their commits (written_elsewhere()). With
//   sqlite_options::shared_queue, several spoolers on this host share the
//   queue instead: each claims what it sends, with a lease by this host's
//   clock and a fencing token (errc::lease_lost for a stale holder's write),
//   and clients in other processes get no_access on a message a spooler
//   holds. docs/sqlite-store.md says more.
// - A new database file is created with mode 0600.

#include <spool/administration.hpp>
#include <spool/error.hpp>
#include <spool/mail/codec.hpp>
#include <spool/message.hpp>
#include <spool/result.hpp>
#include <spool/sqlite/detail/damage.hpp>
#include <spool/sqlite/detail/queue_session.hpp>
#include <spool/sqlite/detail/schema.hpp>
#include <spool/sqlite/detail/spooler_lock.hpp>
#include <spool/sqlite/detail/sql.hpp>
#include <spool/sqlite/detail/statement.hpp>
#include <spool/sqlite/error.hpp>
#include <spool/store_capabilities.hpp>
#include <spool/stores/detail/durable_queue.hpp>
#include <spool/stores/detail/lease_book.hpp>
#include <spool/stores/detail/loaded_message.hpp>
#include <spool/stores/detail/queue_columns.hpp>
#include <spool/stores/detail/queue_listing.hpp>
#include <spool/stores/detail/returned_rows.hpp>
#include <spool/stores/detail/action_rows.hpp>
#include <spool/stores/detail/suppression_rows.hpp>
#include <spool/tags.hpp>

#include <sqlite3.h>

#if !defined(__unix__) && !defined(__APPLE__)
#error "spool's SQLite store needs POSIX (open, flock, pread) for its file mode and its spooler lock; it is not ported to this platform yet."
#endif
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <optional>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace spool {

struct sqlite_options {
    enum class synchronous { normal, full, extra };
    /// FULL: a commit is on disk when it returns. NORMAL trades the last commits for speed.
    synchronous sync = synchronous::full;
    std::chrono::milliseconds busy_timeout{5000};
    /// Refuse to grow the database past this size (0: no limit); a limit also
    /// makes a full disk reproducible in tests.
    std::int64_t max_size_bytes = 0;
    /// The most operations one group commit carries.
    std::size_t group_commit_limit = 256;
    /// The largest encoded message the store takes (0: SQLite's own limit, 1e9
    /// bytes by default). Set with sqlite3_limit(SQLITE_LIMIT_LENGTH); a larger
    /// message is refused with errc::message_too_large before anything is written.
    std::int64_t max_message_bytes = 0;
    /// Let several spoolers, in several processes on this host, work the
    /// database at once: each claims the messages it sends, with a lease on
    /// disk (the shared queue, docs/concepts/store.md), which clients in other
    /// processes see. Off, the first spooler takes lock_spooler()'s lock,
    /// others are refused, and nothing more is written than before.
    bool shared_queue = false;
    /// How long a claim holds a message, by this host's clock; renewed every
    /// third of it while hand-offs run.
    std::chrono::milliseconds lease{30000};
    /// The most messages one claim takes: small claims spread the queue over
    /// the processes; the spooler claims again until nothing due is left.
    std::size_t claim_batch = 256;
    /// With shared_queue, how often an idle spooler looks for due messages
    /// and expired leases without another process's commit to wake it.
    std::chrono::milliseconds poll_interval{1000};
    /// Make spool's tables in a database that has none (a new file). Off, as
    /// an administration tool opens a spool, such a database is refused with
    /// errc::not_a_spool_store and left as it is.
    bool create = true;
};

template <encodable_payload Payload = mail_payload>
class basic_sqlite_store {
public:
    using spool_concept = store_tag;
    using message_type = basic_message<Payload>;

    /// Opens (or creates) the store at `path`. Errors: errc::not_a_spool_store,
    /// errc::schema_too_new, or SQLite's (sqlite_category()), e.g. for an unwritable path.
    static result<basic_sqlite_store> open(const std::string& path, sqlite_options options = {}) {
        auto s = std::make_shared<state>();
        s->options = options;
        if (auto ec = s->open(path)) return ec;
        return basic_sqlite_store{std::move(s)};
    }

    /// As open(), throwing std::system_error on failure.
    explicit basic_sqlite_store(const std::string& path, sqlite_options options = {})
        : basic_sqlite_store(open(path, options).value()) {}

    result<message_id> create(folder_id folder, const message_type& m) {
        std::int64_t id = 0;
        const auto body = encode(m);
        auto ec = write([&](sqlite3* db) { return insert(db, folder, body, id); });
        if (ec) return ec;
        return message_id{static_cast<std::uint64_t>(id)};
    }

    result<message_type> load(message_id id) const {
        std::string body;
        const int rc = read([&](sqlite3* db, detail::sqlite::statement_cache& cache) {
            detail::sqlite::statement st(cache, db, detail::sqlite::sql::load);
            const int step = st.bind(1, key(id)).step();
            if (step == SQLITE_ROW) body = st.text(0);
            return step;
        });
        if (rc == SQLITE_DONE) return errc::not_found;
        if (rc != SQLITE_ROW) return detail::sqlite::error(rc);
        return detail::loaded_message<Payload>(id, body, [&](message_id bad) {
            write([&](sqlite3* db) -> std::error_code {
                detail::sqlite::statement move(state_->statements, db, detail::sqlite::sql::move_message);
                move.bind(1, static_cast<std::int64_t>(folders::quarantine)).bind(2, key(bad)).step();
                detail::sqlite::statement dequeue(state_->statements, db, detail::sqlite::sql::dequeue);
                dequeue.bind(1, key(bad)).step();
                return {};
            });
        });
    }

    std::error_code save(message_id id, const message_type& m) { return queue().save(id, m); }

    std::error_code enqueue(message_id id, const message_type& m) {
        const auto body = encode(m);
        return write([&](sqlite3* db) -> std::error_code {
            if (queued(db, id)) return errc::already_submitted;
            if (auto ec = update_body(db, id, body)) return ec;
            return add_to_queue(db, id, m);
        });
    }

    /// create() and enqueue() in one transaction: one row, one blob, one commit.
    result<message_id> create_queued(folder_id folder, const message_type& m) {
        std::int64_t id = 0;
        const auto body = encode(m);
        auto ec = write([&](sqlite3* db) -> std::error_code {
            if (auto ec = insert(db, folder, body, id)) return ec;
            return add_to_queue(db, message_id{static_cast<std::uint64_t>(id)}, m);
        });
        if (ec) return ec;
        return message_id{static_cast<std::uint64_t>(id)};
    }

    /// Many create_queued() in one transaction, in their order: all or none
    /// (BulkQueuedCreateStore).
    result<std::vector<message_id>> create_queued(folder_id folder, std::span<const message_type> ms) {
        std::vector<std::string> bodies;
        for (const message_type& m : ms) bodies.push_back(encode(m));
        std::vector<message_id> ids;
        if (ms.empty()) return ids;
        auto ec = write([&](sqlite3* db) -> std::error_code {
            ids.clear();
            for (std::size_t i = 0; i < ms.size(); ++i) {
                std::int64_t id = 0;
                if (auto ec = insert(db, folder, bodies[i], id)) return ec;
                ids.push_back(message_id{static_cast<std::uint64_t>(id)});
                if (auto ec = add_to_queue(db, ids.back(), ms[i])) return ec;
            }
            return {};
        });
        if (ec) return ec;
        return ids;
    }

    /// errc::unable_to_abort while another store object's spooler (another
    /// process's) holds the message leased.
    std::error_code abort_submit(message_id id, const message_type& m) {
        const auto body = encode(m);
        return write([&](sqlite3* db) -> std::error_code {
            if (const auto claim = state_->leases.find(id); (!claim || claim->lost) && leased(db, id)) return errc::unable_to_abort;
            if (auto ec = dequeue(db, id)) return ec;
            return update_body(db, id, body);
        });
    }

    std::error_code finish(message_id id, const message_type& m) { return queue().finish(id, m); }

    std::vector<queue_entry> outgoing_queue() const {
        return read([&](sqlite3* db, detail::sqlite::statement_cache& cache) {
            detail::sqlite::statement st(cache, db, detail::sqlite::sql::outgoing_queue);
            return queue_entries(st);
        });
    }

    /// The queued messages due at `now` (their next attempt, as last written,
    /// is not after it), in submit-time order, at most `limit`: found through
    /// an index, so the cost follows what is due, not what is queued.
    std::vector<queue_entry> due_queue(time_point now, std::size_t limit) const {
        return read([&](sqlite3* db, detail::sqlite::statement_cache& cache) {
            detail::sqlite::statement st(cache, db, detail::sqlite::sql::due_queue);
            st.bind(1, detail::stored_nanoseconds(now)).bind(2, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
            return queue_entries(st);
        });
    }

    // --- Administration (docs/administration.md; AdministeredStore) --------

    /// Up to `limit` queued messages matching `f` with ids above `after`, in id
    /// order, read a chunk at a time. Throws std::system_error when the
    /// database cannot be read: an empty page would look like an empty queue.
    std::vector<basic_queued_message<message_type>> list_queue(const queue_filter& f, time_point now, message_id after,
                                                                std::size_t limit) const {
        return queue().template list<Payload>(f, now, after, limit);
    }

    /// One queued message: errc::not_found for an unknown id, errc::not_in_queue for one not queued.
    result<basic_queued_message<message_type>> inspect(message_id id, time_point now) const {
        return queue().template inspect<Payload>(id, now);
    }

    /// The queue's messages by state: one statement over the queue table,
    /// grouped by the row's state (sql::count_by_state).
    queue_counts count_queue(time_point now) const { return queue().count(now); }

    /// Puts a queued message on hold: no spooler attempts it until release(),
    /// and the time held does not count toward its lifetime. Applied at once;
    /// a hand-off running now completes and is recorded, and the message is
    /// not attempted again while held. Holding a held message changes nothing.
    result<admin_outcome> hold(message_id id, time_point now) { return queue().hold(id, now); }

    /// Ends a hold: the message is due at once, and the time it was held is
    /// added to its held_for. A message waiting for a destination that is
    /// down is due at once too. Releasing any other message changes nothing.
    result<admin_outcome> release(message_id id, time_point now) { return queue().release(id, now); }

    /// Records `r` for a spooler to apply at the message's next pass, which is
    /// due at once: flush, expire and remove_with_report (the reports are the
    /// spooler's to make). expire and the removals end a hold; a flush leaves a
    /// held message held. remove deletes the message at once when no hand-off
    /// can be running (not leased, and no spooler of another process whose
    /// claims this store cannot see); else it is requested too.
    result<admin_outcome> request(message_id id, admin_request r) { return queue().request(id, r); }

    // --- The suppression list (docs/suppression.md; SuppressionListStore) ---

    /// Adds `e`, or replaces the entry for its address.
    std::error_code suppress(const suppression_entry& e) {
        return write([&](sqlite3* db) {
            detail::sqlite::statement st(state_->statements, db, detail::sqlite::sql::suppress);
            return st.bind(1, e.address).bind(2, e.reason).bind(3, e.diagnostic).bind(4, detail::stored_nanoseconds(e.added))
                .bind(5, detail::stored_expiry(e)).bind(6, key(e.source)).run();
        });
    }

    /// The entry for `address` (a suppression_key), unless it has expired by `now`: one read of the primary key.
    result<std::optional<suppression_entry>> find_suppression(std::string_view address, time_point now) const {
        std::optional<suppression_entry> found;
        const int rc = read([&](sqlite3* db, detail::sqlite::statement_cache& cache) {
            detail::sqlite::statement st(cache, db, detail::sqlite::sql::find_suppression);
            const int step = st.bind(1, address).bind(2, detail::stored_nanoseconds(now)).step();
            if (step == SQLITE_ROW) found = detail::suppression_columns(st).read(st);
            return step;
        });
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) return detail::sqlite::error(rc);
        return found;
    }

    /// Removes the entry for `address`: errc::not_found when there is none.
    std::error_code unsuppress(std::string_view address) {
        return write([&](sqlite3* db) -> std::error_code {
            detail::sqlite::statement st(state_->statements, db, detail::sqlite::sql::unsuppress);
            if (auto ec = st.bind(1, address).run()) return ec;
            return sqlite3_changes(db) == 0 ? make_error_code(errc::not_found) : std::error_code{};
        });
    }

    /// Up to `limit` live entries with addresses above `after`, in address order.
    result<std::vector<suppression_entry>> list_suppressions(std::string_view after, std::size_t limit, time_point now) const {
        std::vector<suppression_entry> page;
        const int rc = read([&](sqlite3* db, detail::sqlite::statement_cache& cache) {
            detail::sqlite::statement st(cache, db, detail::sqlite::sql::list_suppressions);
            st.bind(1, after).bind(2, detail::stored_nanoseconds(now)).bind(3, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
            int step = st.step();
            if (step == SQLITE_ROW) {
                const detail::suppression_columns columns(st);
                for (; step == SQLITE_ROW; step = st.step()) page.push_back(columns.read(st));
            }
            return step;
        });
        if (rc != SQLITE_DONE) return detail::sqlite::error(rc);
        return page;
    }

    /// How many entries are live at `now`.
    result<std::size_t> count_suppressions(time_point now) const {
        std::size_t n = 0;
        const int rc = read([&](sqlite3* db, detail::sqlite::statement_cache& cache) {
            detail::sqlite::statement st(cache, db, detail::sqlite::sql::count_suppressions);
            const int step = st.bind(1, detail::stored_nanoseconds(now)).step();
            if (step == SQLITE_ROW) n = static_cast<std::size_t>(st.integer(0));
            return step;
        });
        if (rc != SQLITE_ROW) return detail::sqlite::error(rc);
        return n;
    }

    // --- Returned reports kept for later (docs/returned-reports.md; ReportBacklogStore) ---

    std::error_code keep_returned(const returned_report& report) {
        const std::string recipients = detail::encode_returned_recipients(report.recipients);
        return write([&](sqlite3* db) {
            detail::sqlite::statement st(state_->statements, db, detail::sqlite::sql::keep_returned);
            return st.bind(1, key(report.original)).bind(2, report.reporting_mta).bind(3, recipients).run();
        });
    }

    /// Up to `limit` kept reports, oldest first.
    result<std::vector<kept_report>> returned_backlog(std::size_t limit) const {
        std::vector<kept_report> kept;
        const int rc = read([&](sqlite3* db, detail::sqlite::statement_cache& cache) {
            detail::sqlite::statement st(cache, db, detail::sqlite::sql::returned_backlog);
            st.bind(1, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
            int step = SQLITE_ROW;
            while ((step = st.step()) == SQLITE_ROW)
                kept.push_back({st.integer(0),
                                {message_id{static_cast<std::uint64_t>(st.integer(1))}, st.text(2),
                                 detail::decode_returned_recipients(st.text(3))}});
            return step;
        });
        if (rc != SQLITE_DONE) return detail::sqlite::error(rc);
        return kept;
    }

    std::error_code forget_returned(std::int64_t kept) {
        return write([&](sqlite3* db) {
            detail::sqlite::statement st(state_->statements, db, detail::sqlite::sql::forget_returned);
            return st.bind(1, kept).run();
        });
    }

    // --- The action log (docs/web.md; ActionLogStore) -----------------------

    /// Adds `a` with the next key.
    std::error_code log_action(const logged_action& a) {
        return write([&](sqlite3* db) {
            detail::sqlite::statement st(state_->statements, db, detail::sqlite::sql::log_action);
            return st.bind(1, detail::stored_nanoseconds(a.at)).bind(2, a.who).bind(3, a.action).bind(4, a.target)
                .bind(5, detail::stored_count(a.done)).bind(6, detail::stored_count(a.refused)).bind(7, detail::stored_count(a.skipped)).run();
        });
    }

    /// Up to `limit` entries with keys below `before` (0: from the newest), newest first.
    result<std::vector<logged_action>> action_log(std::int64_t before, std::size_t limit) const {
        std::vector<logged_action> page;
        const int rc = read([&](sqlite3* db, detail::sqlite::statement_cache& cache) {
            detail::sqlite::statement st(cache, db, detail::sqlite::sql::action_log);
            st.bind(1, before > 0 ? before : INT64_MAX).bind(2, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
            int step = SQLITE_ROW;
            while ((step = st.step()) == SQLITE_ROW) page.push_back(detail::action_columns::read(st));
            return step;
        });
        if (rc != SQLITE_DONE) return detail::sqlite::error(rc);
        return page;
    }

    /// Removes the entries logged before `before`: one statement through the log's time index.
    result<std::size_t> forget_actions(time_point before) {
        std::size_t removed = 0;
        auto ec = write([&](sqlite3* db) -> std::error_code {
            detail::sqlite::statement st(state_->statements, db, detail::sqlite::sql::forget_actions);
            if (auto e = st.bind(1, detail::stored_nanoseconds(before)).run()) return e;
            removed = static_cast<std::size_t>(sqlite3_changes(db));
            return {};
        });
        if (ec) return ec;
        return removed;
    }

    // --- Waiting for a destination (docs/concepts/store.md) -----------------

    /// The messages `ids` wait for `destination`, which is down, until
    /// `until`: written on their queue rows only (not an attempt), one
    /// transaction. Until then no due listing or claim reads them. A held
    /// message, or one with a request, keeps its next attempt. Written as the
    /// holder of each claim: a message this object has not claimed, or whose
    /// claim it lost, is left alone.
    std::error_code hold_back(const std::vector<message_id>& ids, const std::string& destination, time_point until) {
        return queue().hold_back(ids, destination, until);
    }

    /// Every message waiting for `destination` is due at once (held ones stay
    /// held): one statement, through an index on the destination.
    std::error_code release_held_back(const std::string& destination) { return queue().release_held_back(destination); }

    // --- The shared queue (docs/concepts/store.md, "A shared queue") -------

    /// Claims due messages (next attempt at or before `now`, not leased or the
    /// lease expired), oldest first, at most min(limit, claim_batch), leasing them to this
    /// store object for options.lease by this host's clock, each with a new
    /// fencing token: one transaction; a failure throws std::system_error (the
    /// spooler pauses briefly and tries again). Without shared_queue the one
    /// spooler's lock keeps the messages to it: the claim is kept in memory,
    /// not written, so a pass writes nothing more than before (and a full
    /// disk does not stop the sending of what is queued).
    std::vector<queue_entry> claim_due(time_point now, std::size_t limit) {
        if (!state_->options.shared_queue) return claim_in_memory(now, std::min(limit, state_->options.claim_batch));
        std::vector<queue_entry> out;
        for (auto& row : queue().claim(now, std::min(limit, state_->options.claim_batch))) out.push_back(std::move(row.entry));
        return out;
    }

private:
    // One spooler: its lock keeps the messages to it, so a claim is kept in
    // memory only and the pass writes nothing more than before. Two ways to
    // find the next due messages in queue order, each cheap where the other
    // is not:
    // - in order: walk the queue's order from where the last claim of this
    //   pass ended, passing over what is not due. It reads about as many rows
    //   as it claims while most of the queue is due; the other way sorts every
    //   due row for each claim, which made 200,000 queued messages cost
    //   quadratic time.
    // - by due time: read only the due rows, through the next-attempt index,
    //   and sort them. Cheap while few are due (a backlog deferred for a
    //   destination that is down), where the walk would read the backlog.
    // The walk gives up after passing over more rows than it may claim, and
    // the claim is made by due time; a claim by due time that finds at least
    // as many due as it could take goes back to walking.
    std::vector<queue_entry> claim_in_memory(time_point now, std::size_t want) {
        std::vector<queue_entry> out;
        const std::int64_t due_by = detail::stored_nanoseconds(now);
        // Both statements list a queue_entry, its next attempt and its sequence.
        auto take = [&](detail::sqlite::statement& st, const detail::entry_columns& entry, int sequence) {
            const message_id id{static_cast<std::uint64_t>(st.integer(entry.id))};
            if (state_->leases.holds(id)) return;
            state_->leases.claimed(id, 0);
            out.push_back(entry.read(st));
            state_->claim_cursor = {st.integer(entry.submit_time), st.integer(sequence)};
        };
        read([&](sqlite3* db, detail::sqlite::statement_cache& cache) {
            const auto [after_time, after_sequence] = state_->claim_cursor.value_or(std::pair{INT64_MIN, INT64_MIN});
            if (state_->claim_in_order) {
                detail::sqlite::statement st(cache, db, detail::sqlite::sql::walk_in_order);
                st.bind(1, after_time).bind(2, after_sequence);
                const detail::entry_columns entry(st);
                const int next_attempt = st.column("next_attempt"), sequence = st.column("sequence");
                std::size_t passed_over = 0;
                int rc = SQLITE_ROW;
                while (out.size() < want && (rc = st.step()) == SQLITE_ROW) {
                    if (st.integer(next_attempt) <= due_by) take(st, entry, sequence);
                    else if (++passed_over > want + 64) break;
                }
                if (rc != SQLITE_ROW || out.size() == want) return;
                state_->claim_in_order = false;
            }
            // What the walk passed over is not due: start after its last claim.
            const auto [from_time, from_sequence] = state_->claim_cursor.value_or(std::pair{after_time, after_sequence});
            const std::size_t rows = want - out.size() + state_->leases.size();
            detail::sqlite::statement st(cache, db, detail::sqlite::sql::due_after);
            st.bind(1, due_by).bind(2, from_time).bind(3, from_sequence).bind(4, static_cast<std::int64_t>(rows));
            const detail::entry_columns entry(st);
            const int sequence = st.column("sequence");
            std::size_t read_rows = 0;
            while (st.step() == SQLITE_ROW) {
                ++read_rows;
                if (out.size() < want) take(st, entry, sequence);
            }
            if (read_rows == rows) state_->claim_in_order = true; // many are due: walking is cheaper
        });
        return out;
    }

public:
    /// The spooler's account at the end of a pass: it still has `in_hand`;
    /// every other claim of this store object is released, and the leases kept
    /// are renewed once a third of the lease has passed since the last renewal.
    std::error_code retain_leases(const std::vector<message_id>& in_hand) {
        state_->claim_cursor.reset(); // the next pass's claims start from the queue's head
        if (!state_->options.shared_queue) { // claims in memory only: nothing to write or renew
            auto account = state_->leases.plan_account(in_hand, lease_renewal_interval());
            account.renew_ids.clear();
            state_->leases.accounted(account, {});
            return {};
        }
        return queue().account(in_hand, lease_renewal_interval());
    }

    /// The fewest messages a claim asks for: with shared_queue a claim is a
    /// write transaction, worth durable_claim_floor; without, it is kept in
    /// memory, and the spooler claims only what its transports can take.
    std::size_t claim_floor() const noexcept { return state_->options.shared_queue ? detail::durable_claim_floor : 1; }

    /// How often the spooler renews the leases of hand-offs in flight: a third of the lease.
    std::chrono::milliseconds lease_renewal_interval() const { return state_->options.lease / 3; }

    /// Whether other spoolers may share this queue (options.shared_queue):
    /// only then can another process write a queued message this one changes.
    bool shares_queue() const noexcept { return state_->options.shared_queue; }

    /// Claims the queued message `id` for this store object while no live
    /// lease holds it (MessageClaimStore): with shared_queue, a lease written
    /// as claim_due writes one; without, kept in memory as its claims are.
    result<bool> claim(message_id id) {
        if (state_->options.shared_queue) return queue().claim(id);
        if (state_->leases.holds(id)) return false;
        if (auto queued = inspect(id, time_point{}); !queued) return queued.error();
        state_->leases.claimed(id, 0);
        return true;
    }

    /// Ends this object's claim on `id`.
    std::error_code release_claim(message_id id) {
        if (state_->options.shared_queue) return queue().release_claim(id);
        state_->leases.forget(id);
        return {};
    }

    /// Whether another store object (another process's spooler) holds the
    /// message leased now. A client opening it gets errc::no_access.
    bool leased_elsewhere(message_id id) const {
        if (!state_->options.shared_queue) return false;
        return queue().leased_elsewhere(id);
    }

    std::vector<message_id> contents(folder_id folder) const {
        return read([&](sqlite3* db, detail::sqlite::statement_cache& cache) {
            detail::sqlite::statement st(cache, db, detail::sqlite::sql::contents);
            st.bind(1, static_cast<std::int64_t>(folder));
            std::vector<message_id> out;
            while (st.step() == SQLITE_ROW) out.push_back(message_id{static_cast<std::uint64_t>(st.integer(0))});
            return out;
        });
    }

    /// Runs f with every store operation it makes, from this thread, in one
    /// transaction: one commit for all of them. If the commit fails, none of
    /// them happened, and the error is returned; if f throws, none of them
    /// happened either, and the exception passes on.
    template <class F>
    std::error_code batch(F&& f) {
        std::lock_guard g{state_->db_mutex};
        if (state_->in_batch) return (std::forward<F>(f)(), std::error_code{}); // nested: part of the outer one
        if (int rc = detail::sqlite::exec(state_->statements, state_->db, "BEGIN IMMEDIATE")) return detail::sqlite::error(rc);
        state_->in_batch = true;
        state_->batch_owner.store(std::this_thread::get_id());
        struct leave {
            state& s;
            ~leave() {
                s.in_batch = false;
                s.batch_owner.store(std::thread::id{});
            }
        } guard{*state_};
        try {
            std::forward<F>(f)();
        } catch (...) {
            detail::sqlite::exec(state_->db, "ROLLBACK");
            state_->leases.batch_ended(false);
            throw;
        }
        if (int rc = detail::sqlite::exec(state_->statements, state_->db, "COMMIT")) {
            detail::sqlite::exec(state_->db, "ROLLBACK");
            state_->leases.batch_ended(false);
            return detail::sqlite::error(rc);
        }
        state_->leases.batch_ended(true);
        return {};
    }

    /// SQLite's integrity check: an empty error when the database is sound.
    std::error_code integrity_check() const {
        std::lock_guard g{state_->db_mutex};
        detail::sqlite::statement st(state_->statements, state_->db, "PRAGMA integrity_check");
        if (const int rc = st.step(); rc != SQLITE_ROW) return detail::sqlite::error(rc);
        return st.text(0) == "ok" ? std::error_code{} : detail::sqlite::error(SQLITE_CORRUPT);
    }

    static constexpr int schema_version = detail::sqlite::latest_schema;

    /// Held for its life by the one spooler that works this store: an exclusive
    /// lock (flock) on the file "<database>-spooler", which holds the holder's
    /// process id. Releasing it (destruction) lets another spooler start.
    using spooler_lock = detail::sqlite::spooler_lock;

    /// Taken by a spooler when it first runs. Unless options.shared_queue is
    /// set, a second spooler on the database is refused: std::system_error with
    /// errc::spool_in_use, whose text names the holder's process id.
    spooler_lock lock_spooler() const {
        if (state_->options.shared_queue) return spooler_lock{}; // several spoolers: the leases keep them apart
        return spooler_lock::take(state_->path);
    }

    /// Whether another connection to the database (another process, or another
    /// store object on the same file) has committed since the last call. The
    /// spooler asks this while idle, so that a message a client in another
    /// process submits is sent at once (PRAGMA data_version).
    bool written_elsewhere() const { return state_->written_elsewhere(); }

    /// How many commits the group commit has made, and how many operations they carried.
    std::pair<std::size_t, std::size_t> commit_counts() const {
        std::lock_guard g{state_->queue_mutex};
        return {state_->commits, state_->committed_operations};
    }
    /// Writers waiting for the next group commit, and all writers not yet answered (waiting or being committed).
    std::size_t waiting_writers() const {
        std::lock_guard g{state_->queue_mutex};
        return state_->waiting.size();
    }
    std::size_t pending_writers() const {
        std::lock_guard g{state_->queue_mutex};
        return state_->waiting.size() + state_->in_flight;
    }

private:
    using operation = std::function<std::error_code(sqlite3*)>;

    struct pending {
        const operation* apply;
        std::error_code result;
        bool done = false;
    };

    struct state {
        std::string path;
        sqlite3* db = nullptr;
        std::int64_t data_version = 0; // the writer's PRAGMA data_version when last asked
        std::chrono::steady_clock::time_point polled = std::chrono::steady_clock::now();
        detail::lease_book leases; // this object's claims and their tokens
        // Where this pass's last in-memory claim ended (submit time, sequence), and how the next looks.
        std::optional<std::pair<std::int64_t, std::int64_t>> claim_cursor;
        bool claim_in_order = true;
        sqlite_options options;
        std::recursive_mutex db_mutex;
        detail::sqlite::statement_cache statements; // used under db_mutex only
        // WAL lets readers work beside the writer: loads need not wait for a commit's fsync.
        sqlite3* reader = nullptr;
        std::mutex read_mutex;
        detail::sqlite::statement_cache read_statements; // used under read_mutex only
        std::atomic<std::thread::id> batch_owner{};
        bool in_batch = false;
        std::mutex queue_mutex;
        std::condition_variable committed;
        std::deque<pending*> waiting;
        bool leader = false;
        std::size_t in_flight = 0;
        std::size_t commits = 0, committed_operations = 0;

        ~state() {
            // The caches' statements go first (their destructors run after this body), so close lazily.
            if (reader) sqlite3_close_v2(reader);
            if (db) sqlite3_close_v2(db);
        }

        std::error_code open(const std::string& file) {
            path = file;
            // Created by us, owner-only, before SQLite sees it; SQLite gives the WAL the same mode.
            const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
            if (fd < 0) return detail::sqlite::error(SQLITE_CANTOPEN);
            ::close(fd);
            if (int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr))
                return detail::sqlite::error(rc);
            sqlite3_busy_timeout(db, static_cast<int>(options.busy_timeout.count()));
            // Judge the schema before changing anything: a foreign or newer database stays as it was.
            int version = 0;
            if (auto ec = existing_schema(version)) return ec;
            if (options.max_message_bytes > 0)
                sqlite3_limit(db, SQLITE_LIMIT_LENGTH, static_cast<int>(std::min<std::int64_t>(options.max_message_bytes, INT32_MAX)));
            static constexpr const char* sync_modes[] = {"NORMAL", "FULL", "EXTRA"};
            const std::string pragmas = std::string("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA synchronous = ") +
                                        sync_modes[static_cast<int>(options.sync)] + ";";
            if (int rc = detail::sqlite::exec(db, pragmas)) return detail::sqlite::error(rc);
            if (options.max_size_bytes > 0) {
                detail::sqlite::statement page(db, "PRAGMA page_size");
                page.step();
                const auto pages = std::max<std::int64_t>(1, options.max_size_bytes / std::max<std::int64_t>(1, page.integer(0)));
                detail::sqlite::exec(db, "PRAGMA max_page_count = " + std::to_string(pages));
            }
            if (auto ec = migrate(version)) return ec;
            if (int rc = sqlite3_open_v2(path.c_str(), &reader, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr))
                return detail::sqlite::error(rc);
            sqlite3_busy_timeout(reader, static_cast<int>(options.busy_timeout.count()));
            written_elsewhere(); // what other connections did before we opened is no news
            return {};
        }

        bool written_elsewhere() {
            if (options.shared_queue) {
                // A process that dies holding leases commits nothing: look every so often.
                const auto now = std::chrono::steady_clock::now();
                if (now - polled >= options.poll_interval) {
                    polled = now;
                    return true;
                }
            }
            std::lock_guard g{db_mutex};
            detail::sqlite::statement st(statements, db, "PRAGMA data_version");
            if (st.step() != SQLITE_ROW) return false;
            const std::int64_t now = st.integer(0);
            return std::exchange(data_version, now) != now;
        }

        // -1 for an empty database; errors for one that is damaged, not ours, or too new.
        std::error_code existing_schema(int& version) {
            using detail::sqlite::unreadable;
            detail::sqlite::statement tables(db, "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'");
            const int rc = tables.ok() ? tables.step() : tables.prepare_result();
            if (unreadable(rc)) return detail::sqlite::damaged_or_foreign(path);
            if (rc != SQLITE_ROW) return detail::sqlite::error(rc);
            if (tables.integer(0) == 0) {
                if (!options.create) return errc::not_a_spool_store; // an empty database is not a spool either
                return version = -1, std::error_code{};
            }
            detail::sqlite::statement schema(db, "SELECT application, version FROM spool_schema");
            if (!schema.ok()) return unreadable(schema.prepare_result()) ? errc::damaged_store : errc::not_a_spool_store;
            const int row = schema.step();
            if (unreadable(row)) return errc::damaged_store;
            if (row != SQLITE_ROW) return row == SQLITE_DONE ? errc::invalid_schema : detail::sqlite::error(row);
            if (schema.text(0) != detail::sqlite::application) return errc::not_a_spool_store;
            const std::int64_t stored = schema.integer(1);
            // Version 0 is the bare version table a new database starts from;
            // anything beside it, or a version below 0, no spool wrote.
            if (stored < 0 || (stored == 0 && tables.integer(0) > 1)) return errc::invalid_schema;
            if (stored > detail::sqlite::latest_schema) return errc::schema_too_new;
            version = static_cast<int>(stored);
            return {};
        }

        std::error_code migrate(int from) {
            if (from == detail::sqlite::latest_schema) return {};
            std::string sql = "BEGIN IMMEDIATE;";
            if (from < 0) {
                sql += "CREATE TABLE spool_schema (application TEXT NOT NULL, version INTEGER NOT NULL);"
                       "INSERT INTO spool_schema VALUES ('spool', 0);";
                from = 0;
            }
            for (int v = from; v < detail::sqlite::latest_schema; ++v) sql += std::string(detail::sqlite::migrations[v]);
            sql += "UPDATE spool_schema SET version = " + std::to_string(detail::sqlite::latest_schema) + "; COMMIT;";
            if (int rc = detail::sqlite::exec(db, sql)) {
                detail::sqlite::exec(db, "ROLLBACK");
                return detail::sqlite::error(rc);
            }
            return {};
        }
    };

    explicit basic_sqlite_store(std::shared_ptr<state> s) : state_(std::move(s)) {}

    static std::int64_t key(message_id id) { return static_cast<std::int64_t>(id); }

    // The queue's rules (detail::durable_queue) over this store's statements
    // (detail::sqlite::queue_session) and transactions.
    struct queue_driver {
        const basic_sqlite_store* store;
        detail::lease_book& leases() const { return store->state_->leases; }
        std::chrono::milliseconds lease() const { return store->state_->options.lease; }
        template <class F>
        std::error_code write(F&& f) const {
            return store->write([&](sqlite3* db) {
                auto s = session(db, store->state_->statements);
                return f(s);
            });
        }
        template <class F>
        std::error_code read(F&& f) const {
            return store->read([&](sqlite3* db, detail::sqlite::statement_cache& cache) {
                auto s = session(db, cache);
                return f(s);
            });
        }
        bool in_batch() const { return store->in_own_batch(); }
        bool fenced() const { return store->state_->options.shared_queue; }
        [[noreturn]] void fail(std::error_code ec, const char* what) const {
            throw std::system_error(ec, std::string("spool: SQLite store: ") + what);
        }
        auto session(sqlite3* db, detail::sqlite::statement_cache& cache) const { return store->session(db, cache); }
    };
    detail::durable_queue<queue_driver> queue() const { return detail::durable_queue<queue_driver>{queue_driver{this}}; }
    detail::sqlite::queue_session session(sqlite3* db, detail::sqlite::statement_cache& cache) const {
        return {db, cache, state_->path, state_->options.shared_queue};
    }
    detail::sqlite::queue_session session(sqlite3* db) const { return session(db, state_->statements); }

    // Reads go to the reader connection, except from inside this thread's
    // batch(), whose uncommitted writes only the writer connection sees.
    template <class F>
    auto read(F&& f) const {
        if (state_->batch_owner.load() == std::this_thread::get_id()) {
            std::lock_guard g{state_->db_mutex};
            return f(state_->db, state_->statements);
        }
        std::lock_guard g{state_->read_mutex};
        return f(state_->reader, state_->read_statements);
    }

    // The queue entries a statement lists (detail::entry_columns).
    static std::vector<queue_entry> queue_entries(detail::sqlite::statement& st) {
        const detail::entry_columns entry(st);
        std::vector<queue_entry> out;
        while (st.step() == SQLITE_ROW) out.push_back(entry.read(st));
        return out;
    }

    bool in_own_batch() const { return state_->batch_owner.load() == std::this_thread::get_id(); }

    bool leased(sqlite3* db, message_id id) const {
        detail::sqlite::statement st(state_->statements, db, detail::sqlite::sql::leased);
        return st.bind(1, key(id)).step() == SQLITE_ROW;
    }

    bool queued(sqlite3* db, message_id id) const {
        detail::sqlite::statement st(state_->statements, db, detail::sqlite::sql::queued);
        return st.bind(1, key(id)).step() == SQLITE_ROW;
    }
    std::error_code update_body(sqlite3* db, message_id id, const std::string& body) const {
        bool updated = false;
        if (auto ec = session(db).update_body(id, body, updated)) return ec;
        return updated ? std::error_code{} : std::error_code{errc::not_found};
    }
    std::error_code insert(sqlite3* db, folder_id folder, const std::string& body, std::int64_t& id) const {
        if (auto ec = session(db).fits(body)) return ec;
        detail::sqlite::statement st(state_->statements, db, detail::sqlite::sql::insert_message);
        if (auto ec = st.bind(1, static_cast<std::int64_t>(folder)).bind(2, body).run()) return ec;
        id = sqlite3_last_insert_rowid(db);
        return {};
    }
    std::error_code add_to_queue(sqlite3* db, message_id id, const message_type& m) const {
        detail::sqlite::statement st(state_->statements, db, detail::sqlite::sql::enqueue);
        const auto submitted = detail::stored_nanoseconds(m.client_submit_time.value_or(time_point{}));
        const auto flags = static_cast<std::int64_t>(m.submission & ~submit_flags::locked);
        return st.bind(1, key(id)).bind(2, submitted).bind(3, flags).bind(4, detail::stored_nanoseconds(next_attempt(m))).run();
    }
    std::error_code dequeue(sqlite3* db, message_id id) const {
        detail::write_found found;
        if (auto ec = session(db).dequeue(id, found)) return ec;
        if (found.written) return {};
        return found.message_exists ? errc::not_in_queue : errc::not_found;
    }

    // One transition, durable when this returns. Inside batch() it joins that
    // transaction; otherwise it joins the next group commit.
    std::error_code write(const operation& op) const {
        {
            std::unique_lock g{state_->db_mutex, std::try_to_lock};
            if (g.owns_lock() && state_->in_batch) return run_in_savepoint(op);
        }
        pending mine{&op, {}, false};
        std::unique_lock lk{state_->queue_mutex};
        state_->waiting.push_back(&mine);
        while (!mine.done) {
            if (state_->leader) {
                state_->committed.wait(lk);
                continue;
            }
            state_->leader = true;
            std::vector<pending*> group;
            while (!state_->waiting.empty() && group.size() < state_->options.group_commit_limit) {
                group.push_back(state_->waiting.front());
                state_->waiting.pop_front();
            }
            state_->in_flight = group.size();
            lk.unlock();
            commit_group(group);
            lk.lock();
            state_->in_flight = 0;
            ++state_->commits;
            state_->committed_operations += group.size();
            for (pending* p : group) p->done = true;
            state_->leader = false;
            state_->committed.notify_all();
        }
        return mine.result;
    }

    // Each operation in its own savepoint, so one that fails leaves the others in the commit.
    std::error_code run_in_savepoint(const operation& op) const {
        sqlite3* db = state_->db;
        if (int rc = detail::sqlite::exec(state_->statements, db, "SAVEPOINT op")) return detail::sqlite::error(rc);
        std::error_code ec = op(db);
        if (ec) detail::sqlite::exec(db, "ROLLBACK TO op");
        detail::sqlite::exec(state_->statements, db, "RELEASE op");
        return ec;
    }

    void commit_group(const std::vector<pending*>& group) const {
        std::lock_guard g{state_->db_mutex};
        sqlite3* db = state_->db;
        if (int rc = detail::sqlite::exec(state_->statements, db, "BEGIN IMMEDIATE")) {
            for (pending* p : group) p->result = detail::sqlite::error(rc);
            return;
        }
        for (pending* p : group) p->result = run_in_savepoint(*p->apply);
        if (int rc = detail::sqlite::exec(state_->statements, db, "COMMIT")) {
            detail::sqlite::exec(db, "ROLLBACK");
            for (pending* p : group)
                if (!p->result) p->result = detail::sqlite::error(rc);
        }
    }

    std::shared_ptr<state> state_;
};

using sqlite_store = basic_sqlite_store<>;

} // namespace spool
