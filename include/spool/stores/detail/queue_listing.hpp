#pragma once

// The part of queue administration every store shares: a queue row as the
// store reads it, turned into what a listing shows, and the paging that
// filters rows a chunk at a time, so that a listing of a million-message queue
// holds one chunk in memory, never the queue.

#include <spool/administration.hpp>
#include <spool/mail/codec.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace spool::detail {

/// A queued message's row and body, as a store read them.
struct queue_row {
    message_id id{};
    time_point submit_time{};
    std::string body;
    std::optional<time_point> held_since;
    std::chrono::nanoseconds held_for{};
    admin_request request = admin_request::none;
    time_point next_attempt{};
    bool leased = false;
    std::string lease_owner;
    std::string waiting_for; // empty: not waiting for a destination
};

/// The rows a chunk of paging reads at a time.
inline constexpr std::size_t listing_chunk = 256;

/// What a listing shows of a row. The body is decoded without side effects:
/// one that cannot be decoded is reported, never moved or rewritten.
template <class Payload>
basic_queued_message<basic_message<Payload>> listed(queue_row&& row, time_point now) {
    basic_queued_message<basic_message<Payload>> out;
    out.id = row.id;
    out.submit_time = row.submit_time;
    out.size = row.body.size();
    out.held = row.held_since.has_value();
    out.held_since = row.held_since;
    out.held_for = row.held_for;
    out.request = row.request;
    out.next_attempt = out.held ? time_point::max() : row.next_attempt;
    out.state = state_of(row.leased, out.held, !row.waiting_for.empty(), row.next_attempt, now);
    if (row.leased) out.lease_owner = std::move(row.lease_owner);
    if (out.state == spool::queue_state::waiting) out.waiting_for = std::move(row.waiting_for);
    out.message = decode<Payload>(row.body);
    if (out.message) out.message->id = row.id;
    return out;
}

template <class Message>
bool matches(const basic_queued_message<Message>& q, const queue_filter& f, time_point now) {
    if (f.state && q.state != *f.state) return false;
    if (f.older_than && q.submit_time > now - *f.older_than) return false;
    if (!f.domain.empty()) {
        // A message that cannot be decoded has no known recipients: it matches no domain.
        if (!q.message) return false;
        if (!has_open_recipient_at(*q.message, address_domain("@" + f.domain))) return false;
    }
    return true;
}

/// Up to `limit` messages matching `f` with ids above `after`, in id order.
/// `fetch(after, n)` reads up to n rows with ids above `after`, in id order.
template <class Payload, class Fetch>
std::vector<basic_queued_message<basic_message<Payload>>> list_matching(Fetch&& fetch, const queue_filter& f, time_point now,
                                                                        message_id after, std::size_t limit) {
    std::vector<basic_queued_message<basic_message<Payload>>> out;
    while (out.size() < limit) {
        std::vector<queue_row> rows = fetch(after, listing_chunk);
        if (rows.empty()) break;
        after = rows.back().id;
        const bool last = rows.size() < listing_chunk;
        for (queue_row& row : rows) {
            if (out.size() == limit) break;
            auto q = listed<Payload>(std::move(row), now);
            if (matches(q, f, now)) out.push_back(std::move(q));
        }
        if (last) break;
    }
    return out;
}

} // namespace spool::detail
