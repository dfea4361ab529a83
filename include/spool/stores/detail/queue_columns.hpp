#pragma once

// The queue's rows as both durable stores read them: by column name, into
// queue_entry, queue_row and queue_counts, whatever order a statement lists
// its columns in. A backend's row (an SQLite statement on a row, a
// PostgreSQL result's row) gives column(name), integer(c), text(c) and
// null(c); the columns are found once per statement run, not per row.

#include <spool/administration.hpp>
#include <spool/message.hpp>
#include <spool/stores/detail/queue_listing.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace spool::detail {

/// A time as the stores keep it: nanoseconds since the epoch.
inline std::int64_t stored_nanoseconds(time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
inline time_point stored_time(std::int64_t ns) {
    return time_point{std::chrono::duration_cast<time_point::duration>(std::chrono::nanoseconds{ns})};
}

/// The columns of a queue_entry: message_id, submit_time, submit_flags, held_for, request.
struct entry_columns {
    int id, submit_time, flags, held_for, request;

    template <class Row>
    explicit entry_columns(const Row& r)
        : id(r.column("message_id")), submit_time(r.column("submit_time")), flags(r.column("submit_flags")),
          held_for(r.column("held_for")), request(r.column("request")) {}

    template <class Row>
    queue_entry read(const Row& r) const {
        return {message_id{static_cast<std::uint64_t>(r.integer(id))}, stored_time(r.integer(submit_time)),
                static_cast<spool::submit_flags>(r.integer(flags)), std::chrono::nanoseconds{r.integer(held_for)},
                static_cast<spool::admin_request>(r.integer(request))};
    }
};

/// The columns listings show (queue_row); `leased` is the database's word,
/// which the store adds its own claims to.
struct listing_columns {
    int id, submit_time, body, held_since, held_for, request, next_attempt, leased, lease_owner, waiting_for;

    template <class Row>
    explicit listing_columns(const Row& r)
        : id(r.column("message_id")), submit_time(r.column("submit_time")), body(r.column("body")), held_since(r.column("held_since")),
          held_for(r.column("held_for")), request(r.column("request")), next_attempt(r.column("next_attempt")),
          leased(r.column("leased")), lease_owner(r.column("lease_owner")), waiting_for(r.column("waiting_for")) {}

    template <class Row>
    queue_row read(const Row& r) const {
        queue_row row;
        row.id = message_id{static_cast<std::uint64_t>(r.integer(id))};
        row.submit_time = stored_time(r.integer(submit_time));
        row.body = r.text(body);
        if (!r.null(held_since)) row.held_since = stored_time(r.integer(held_since));
        row.held_for = std::chrono::nanoseconds{r.integer(held_for)};
        row.request = static_cast<admin_request>(r.integer(request));
        row.next_attempt = stored_time(r.integer(next_attempt));
        row.leased = r.integer(leased) != 0;
        if (row.leased && !r.null(lease_owner)) row.lease_owner = r.text(lease_owner);
        if (!r.null(waiting_for)) row.waiting_for = r.text(waiting_for);
        return row;
    }
};

/// The columns of a count by state: state (spool::queue_state's value, as
/// each dialect's state expression gives it), rows, and requested.
struct state_count_columns {
    int state, rows, requested;

    template <class Row>
    explicit state_count_columns(const Row& r) : state(r.column("state")), rows(r.column("messages")), requested(r.column("requested")) {}

    template <class Row>
    void add_to(queue_counts& c, const Row& r) const {
        const auto n = static_cast<std::size_t>(r.integer(rows));
        c.total += n;
        c.requested += static_cast<std::size_t>(r.integer(requested));
        switch (static_cast<spool::queue_state>(r.integer(state))) {
        case spool::queue_state::due: c.due += n; break;
        case spool::queue_state::deferred: c.deferred += n; break;
        case spool::queue_state::held: c.held += n; break;
        case spool::queue_state::in_hand: c.in_hand += n; break;
        case spool::queue_state::waiting: c.waiting += n; break;
        }
    }
};

} // namespace spool::detail
