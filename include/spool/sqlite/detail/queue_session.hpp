#pragma once

// The SQLite store's statements for the queue's rules (detail::queue_statements),
// on one connection inside a transaction the store opened. Arrays of ids are
// written a row at a time: a statement costs little in SQLite, whose
// transaction is the unit of cost.

#include <spool/administration.hpp>
#include <spool/sqlite/detail/schema.hpp>
#include <spool/sqlite/detail/spooler_lock.hpp>
#include <spool/sqlite/detail/sql.hpp>
#include <spool/sqlite/detail/statement.hpp>
#include <spool/stores/detail/durable_queue.hpp>
#include <spool/stores/detail/queue_columns.hpp>

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace spool::detail::sqlite {

struct queue_session {
    sqlite3* db;
    statement_cache& cache;
    const std::string& database; // its path, where the spooler lock lives
    bool shared;                 // sqlite_options::shared_queue: claims are leases in the database

    // A write with a token is made only while the token is the queue row's.
    std::error_code save(message_id id, const std::string& body, time_point next_attempt, std::optional<std::int64_t> token,
                         write_found& found) {
        if (auto ec = holds(id, token, found); ec || !found.written) return ec;
        if (auto ec = update_body(id, body, found.written)) return ec;
        found.message_exists = found.written;
        if (!found.written) return {};
        // A hold or a request made while the message was in hand outlives
        // this write: it is applied at the message's next pass. A flush is
        // met by the pass that writes this.
        statement st(cache, db, sql::save_queued);
        return st.bind(1, stored_nanoseconds(next_attempt)).bind(2, key(id)).bind(3, held_next_attempt).run();
    }
    std::error_code finish(message_id id, const std::string& body, std::optional<folder_id> folder, bool remove,
                           std::optional<std::int64_t> token, write_found& found) {
        if (auto ec = holds(id, token, found); ec || !found.written) return ec;
        if (auto ec = dequeue(id, found)) return ec;
        if (!found.written) return {};
        if (remove) {
            statement st(cache, db, sql::delete_message);
            return st.bind(1, key(id)).run();
        }
        bool updated = false;
        if (auto ec = update_body(id, body, updated)) return ec;
        if (!folder) return {};
        statement st(cache, db, sql::move_message);
        return st.bind(1, static_cast<std::int64_t>(*folder)).bind(2, key(id)).run();
    }

    // The store's own writes use these too.
    // A body over SQLite's length limit is refused before any statement runs.
    std::error_code fits(const std::string& body) const {
        const auto limit = static_cast<std::size_t>(sqlite3_limit(db, SQLITE_LIMIT_LENGTH, -1));
        return body.size() > limit ? std::error_code{errc::message_too_large} : std::error_code{};
    }
    std::error_code update_body(message_id id, const std::string& body, bool& updated) {
        if (auto ec = fits(body)) return ec;
        statement st(cache, db, sql::update_body);
        if (auto ec = st.bind(1, body).bind(2, key(id)).run()) return ec;
        updated = sqlite3_changes(db) == 1;
        return {};
    }
    // Out of the queue: `written` if it was queued; else whether it exists.
    std::error_code dequeue(message_id id, write_found& found) {
        found = {};
        if (auto ec = message_exists(id, found.message_exists); ec || !found.message_exists) return ec;
        statement st(cache, db, sql::dequeue);
        if (auto ec = st.bind(1, key(id)).run()) return ec;
        found.written = sqlite3_changes(db) == 1;
        return {};
    }

    std::error_code message_exists(message_id id, bool& found) { return exists(sql::message_exists, id, found); }
    std::error_code queued(message_id id, bool& found) { return exists(sql::queued, id, found); }
    std::error_code leased(message_id id, bool& found) { return exists(sql::leased, id, found); }

    std::error_code hold(message_id id, time_point now, bool& queued) {
        return if_queued(id, queued, [&] {
            statement st(cache, db, sql::hold);
            return st.bind(1, stored_nanoseconds(now)).bind(2, held_next_attempt).bind(3, key(id)).run();
        });
    }
    std::error_code release(message_id id, time_point now, bool& queued) {
        return if_queued(id, queued, [&] {
            statement st(cache, db, sql::release);
            return st.bind(1, stored_nanoseconds(now)).bind(2, key(id)).run();
        });
    }
    std::error_code request(message_id id, admin_request r, bool& queued) {
        return if_queued(id, queued, [&] {
            statement st(cache, db, sql::request);
            return st.bind(1, static_cast<std::int64_t>(r)).bind(2, key(id)).run();
        });
    }
    // Without the shared queue a spooler's claims are in its memory, where no
    // other process can see them: while one holds the spooler lock, any
    // message may be in a hand-off.
    std::error_code remove_unless_leased(message_id id, bool& removed) {
        removed = false;
        bool queued = false, in_hand = false;
        if (auto ec = this->queued(id, queued); ec || !queued) return ec;
        if (auto ec = leased(id, in_hand); ec || in_hand || spooler_lock::held(database)) return ec;
        statement q(cache, db, sql::dequeue);
        if (auto ec = q.bind(1, key(id)).run()) return ec;
        statement m(cache, db, sql::delete_message);
        if (auto ec = m.bind(1, key(id)).run()) return ec;
        removed = true;
        return {};
    }

    std::error_code hold_back(const std::vector<std::int64_t>& ids, const std::vector<std::int64_t>& fences, time_point until,
                              const std::string& destination) {
        for (std::size_t i = 0; i < ids.size(); ++i) {
            statement st(cache, db, sql::hold_back);
            st.bind(1, stored_nanoseconds(until)).bind(2, destination).bind(3, ids[i]).bind(4, shared ? fences[i] : std::int64_t{-1});
            if (auto ec = st.run()) return ec;
        }
        return {};
    }
    std::error_code release_held_back(const std::string& destination) {
        statement st(cache, db, sql::release_held_back);
        return st.bind(1, destination).run();
    }

    std::error_code claim(time_point now, std::size_t limit, std::chrono::milliseconds lease, std::vector<claimed_row>& claimed) {
        statement st(cache, db, sql::claim);
        st.bind(1, static_cast<std::int64_t>(::getpid()))
            .bind(2, static_cast<std::int64_t>(lease.count()))
            .bind(3, stored_nanoseconds(now))
            .bind(4, static_cast<std::int64_t>(limit));
        const entry_columns entry(st);
        const int sequence = st.column("sequence"), fence = st.column("fence");
        int rc = SQLITE_OK;
        while ((rc = st.step()) == SQLITE_ROW) claimed.push_back({entry.read(st), st.integer(sequence), st.integer(fence), {}});
        return rc == SQLITE_DONE ? std::error_code{} : error(rc);
    }
    std::error_code claim_message(message_id id, std::chrono::milliseconds lease, std::int64_t& fence, bool& claimed) {
        statement st(cache, db, sql::claim_message);
        st.bind(1, static_cast<std::int64_t>(::getpid())).bind(2, static_cast<std::int64_t>(lease.count())).bind(3, key(id));
        const int rc = st.step();
        claimed = rc == SQLITE_ROW;
        if (claimed) fence = st.integer(0);
        return rc == SQLITE_ROW || rc == SQLITE_DONE ? std::error_code{} : error(rc);
    }
    std::error_code release_leases(const std::vector<std::int64_t>& ids, const std::vector<std::int64_t>& fences) {
        for (std::size_t i = 0; i < ids.size(); ++i) {
            statement st(cache, db, sql::release_lease);
            if (auto ec = st.bind(1, ids[i]).bind(2, fences[i]).run()) return ec;
        }
        return {};
    }
    std::error_code renew_leases(const std::vector<std::int64_t>& ids, const std::vector<std::int64_t>& fences,
                                 std::chrono::milliseconds lease, std::vector<std::int64_t>& renewed) {
        for (std::size_t i = 0; i < ids.size(); ++i) {
            statement st(cache, db, sql::renew_lease);
            if (auto ec = st.bind(1, static_cast<std::int64_t>(lease.count())).bind(2, ids[i]).bind(3, fences[i]).run()) return ec;
            if (sqlite3_changes(db) == 1) renewed.push_back(ids[i]);
        }
        return {};
    }

    std::error_code queue_rows(message_id from, std::size_t n, bool exactly, std::vector<queue_row>& rows) {
        statement st(cache, db, exactly ? sql::queue_row : sql::queue_rows);
        st.bind(1, key(from)).bind(2, static_cast<std::int64_t>(std::min<std::size_t>(n, INT64_MAX)));
        const listing_columns columns(st);
        int rc = SQLITE_OK;
        while ((rc = st.step()) == SQLITE_ROW) rows.push_back(columns.read(st));
        return rc == SQLITE_DONE ? std::error_code{} : error(rc);
    }
    std::error_code count_by_state(time_point now, queue_counts& counts) {
        statement st(cache, db, sql::count_by_state);
        st.bind(1, stored_nanoseconds(now));
        const state_count_columns columns(st);
        counts = {};
        int rc = SQLITE_OK;
        while ((rc = st.step()) == SQLITE_ROW) columns.add_to(counts, st);
        return rc == SQLITE_DONE ? std::error_code{} : error(rc);
    }

private:
    // Whether the write may go on: no token, or the row's (`written` so far).
    std::error_code holds(message_id id, std::optional<std::int64_t> token, write_found& found) {
        found = {true, true};
        if (!token) return {};
        statement st(cache, db, sql::fence);
        const int rc = st.bind(1, key(id)).step();
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) return error(rc);
        found.written = rc == SQLITE_ROW && st.integer(0) == *token;
        return {};
    }
    static std::int64_t key(message_id id) { return static_cast<std::int64_t>(id); }
    std::error_code exists(std::string_view query, message_id id, bool& found) {
        statement st(cache, db, query);
        const int rc = st.bind(1, key(id)).step();
        found = rc == SQLITE_ROW;
        return found || rc == SQLITE_DONE ? std::error_code{} : error(rc);
    }
    template <class Change>
    std::error_code if_queued(message_id id, bool& queued, Change&& change) {
        if (auto ec = this->queued(id, queued); ec || !queued) return ec;
        return change();
    }
};
static_assert(spool::detail::queue_statements<queue_session>);

} // namespace spool::detail::sqlite
