#pragma once

// The PostgreSQL store's statements for the queue's rules
// (detail::queue_statements), on the store's connection. Arrays of ids and
// tokens go to the server as arrays: a round trip is the unit of cost, so a
// step over many messages is one statement.

#include <spool/administration.hpp>
#include <spool/postgres/detail/connection.hpp>
#include <spool/postgres/detail/sql.hpp>
#include <spool/stores/detail/durable_queue.hpp>
#include <spool/stores/detail/queue_columns.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace spool::detail::postgres {

struct queue_session {
    connection& db;
    const std::string& channel; // NOTIFY's: releases and requests wake the spoolers
    const std::string& owner;   // postgres_options::owner, written on each lease

    // A write with a token is made only while the token is the queue row's.
    std::error_code save(message_id id, const std::string& body, time_point next_attempt, std::optional<std::int64_t> token,
                         write_found& found) {
        params p;
        p.integer(key(id)).bytes(body).integer(stored_nanoseconds(next_attempt));
        if (token) p.integer(*token);
        auto r = db.run(token ? sql::save_fenced : sql::save, p);
        if (!r.ok()) return db.error_of(r);
        found.written = r.flag("written");
        found.message_exists = token ? r.flag("message_exists") : found.written;
        return {};
    }
    std::error_code finish(message_id id, const std::string& body, std::optional<folder_id> folder, bool remove,
                           std::optional<std::int64_t> token, write_found& found) {
        params p;
        p.integer(key(id));
        if (!remove) p.bytes(body);
        p.optional_integer(token ? &*token : nullptr);
        if (!remove) {
            const std::int64_t moved_to = folder ? static_cast<std::int64_t>(*folder) : 0;
            p.optional_integer(folder ? &moved_to : nullptr);
        }
        auto r = db.run(remove ? sql::finish_delete : sql::finish_keep, p);
        if (!r.ok()) return db.error_of(r);
        found = {r.flag("written"), r.flag("message_exists")};
        return {};
    }

    std::error_code message_exists(message_id id, bool& found) { return any_row(sql::message_exists, id_param(id), found); }
    std::error_code queued(message_id id, bool& found) { return any_row(sql::queued, id_param(id), found); }
    std::error_code leased(message_id id, bool& found) { return any_row(sql::leased, id_param(id), found); }

    // Each returns a row when the message is queued.
    std::error_code hold(message_id id, time_point now, bool& queued) {
        params p;
        p.integer(key(id)).integer(stored_nanoseconds(now));
        return any_row(sql::hold, p, queued);
    }
    std::error_code release(message_id id, time_point now, bool& queued) {
        params p;
        p.integer(key(id)).integer(stored_nanoseconds(now)).text(channel);
        return any_row(sql::release_hold, p, queued);
    }
    std::error_code request(message_id id, admin_request r, bool& queued) {
        params p;
        p.integer(key(id)).integer(static_cast<std::int64_t>(r)).text(channel);
        return any_row(sql::request, p, queued);
    }
    std::error_code remove_unless_leased(message_id id, bool& removed) { return any_row(sql::remove, id_param(id), removed); }

    std::error_code hold_back(const std::vector<std::int64_t>& ids, const std::vector<std::int64_t>& fences, time_point until,
                              const std::string& destination) {
        params p;
        p.integers(ids).integers(fences).integer(stored_nanoseconds(until)).text(destination);
        return run(sql::hold_back, p);
    }
    std::error_code release_held_back(const std::string& destination) {
        params p;
        p.text(destination).text(channel);
        return run(sql::release_held_back, p);
    }

    // The bodies come with the claim (sql::claim).
    std::error_code claim(time_point now, std::size_t limit, std::chrono::milliseconds lease, std::vector<claimed_row>& claimed) {
        params p;
        p.integer(stored_nanoseconds(now)).integer(static_cast<std::int64_t>(limit)).text(owner).integer(lease.count());
        auto r = db.run(sql::claim, p);
        if (!r.ok()) return db.error_of(r);
        const entry_columns entry(row(r, 0));
        const int fence = r.column("fence"), sequence = r.column("sequence"), body = r.column("body");
        for (int i = 0; i < r.rows(); ++i) claimed.push_back({entry.read(row(r, i)), r.integer(i, sequence), r.integer(i, fence), r.bytes(i, body)});
        return {};
    }
    std::error_code claim_message(message_id id, std::chrono::milliseconds lease, std::int64_t& fence, bool& claimed) {
        params p;
        p.integer(key(id)).text(owner).integer(lease.count());
        auto r = db.run(sql::claim_message, p);
        if (!r.ok()) return db.error_of(r);
        claimed = r.rows() > 0;
        if (claimed) fence = r.integer(0, 0);
        return {};
    }
    std::error_code release_leases(const std::vector<std::int64_t>& ids, const std::vector<std::int64_t>& fences) {
        params p;
        p.integers(ids).integers(fences);
        return run(sql::release, p);
    }
    std::error_code renew_leases(const std::vector<std::int64_t>& ids, const std::vector<std::int64_t>& fences,
                                 std::chrono::milliseconds lease, std::vector<std::int64_t>& renewed) {
        params p;
        p.integers(ids).integers(fences).integer(lease.count());
        auto r = db.run(sql::renew, p);
        if (!r.ok()) return db.error_of(r);
        for (int i = 0; i < r.rows(); ++i) renewed.push_back(r.integer(i, 0));
        return {};
    }

    std::error_code queue_rows(message_id from, std::size_t n, bool exactly, std::vector<queue_row>& rows) {
        params p;
        p.integer(key(from)).integer(static_cast<std::int64_t>(std::min<std::size_t>(n, INT64_MAX)));
        auto r = db.run(exactly ? sql::queue_row : sql::queue_rows, p);
        if (!r.ok()) return db.error_of(r);
        const listing_columns columns(row(r, 0));
        for (int i = 0; i < r.rows(); ++i) rows.push_back(columns.read(row(r, i)));
        return {};
    }
    std::error_code count_by_state(time_point now, queue_counts& counts) {
        params p;
        p.integer(stored_nanoseconds(now));
        auto r = db.run(sql::count_by_state, p);
        if (!r.ok()) return db.error_of(r);
        counts = {};
        const state_count_columns columns(row(r, 0));
        for (int i = 0; i < r.rows(); ++i) columns.add_to(counts, row(r, i));
        return {};
    }

private:
    static std::int64_t key(message_id id) { return static_cast<std::int64_t>(id); }
    static params id_param(message_id id) {
        params p;
        p.integer(key(id));
        return p;
    }
    std::error_code run(const statement& st, params& p) {
        auto r = db.run(st, p);
        return r.ok() ? std::error_code{} : db.error_of(r);
    }
    std::error_code any_row(const statement& st, params&& p, bool& found) { return any_row(st, p, found); }
    std::error_code any_row(const statement& st, params& p, bool& found) {
        auto r = db.run(st, p);
        if (!r.ok()) return db.error_of(r);
        found = r.rows() > 0;
        return {};
    }
};
static_assert(spool::detail::queue_statements<queue_session>);

} // namespace spool::detail::postgres
