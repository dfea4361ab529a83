#pragma once

// The queue's rules, written once for every durable store: what an
// administrative change finds (applied, requested, not in the queue, not
// found); when a removal may delete at once; as the holder of which claims a
// hold-back is written; how a claim is ordered and booked; the end-of-pass
// lease account; what listings and counts show. A backend supplies its
// statements, as queue_statements (one statement per step, in its own SQL),
// and a driver that runs a session in its own transactions. River's driver
// interface is the model: a third backend writes SQL and nothing else.
//
// What stays in each backend is how it makes a write durable and cheap: the
// SQLite store's group commit and in-memory claims for one spooler, the
// PostgreSQL store's bulk statements, reserved ids and prefetched bodies.

#include <spool/administration.hpp>
#include <spool/error.hpp>
#include <spool/mail/codec.hpp>
#include <spool/message.hpp>
#include <spool/result.hpp>
#include <spool/stores/detail/lease_book.hpp>
#include <spool/stores/detail/queue_listing.hpp>

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

namespace spool::detail {

/// A queue row a claim leased: its entry, its place in queue order, its new
/// fencing token, and its body where the backend's claim brings it.
struct claimed_row {
    queue_entry entry;
    std::int64_t sequence = 0;
    std::int64_t fence = 0;
    std::optional<std::string> body;
};

/// What a claim holder's write found: whether it was made, and, when not,
/// whether the message exists.
struct write_found {
    bool written = false;
    bool message_exists = false;
};

/// A backend's statements for the queue's rules. Each step returns the
/// backend's error, and what it found in its last argument; `queued` is
/// whether the message had a queue row (the step changed nothing otherwise).
/// Tokens and ids travel as arrays, for the backends that write them in one
/// statement; a backend whose queue one spooler owns ignores the tokens.
/// A save or a finish given a token is written only while the token is the
/// queue row's; without one (no claim: a client's write), as it stands.
template <class S>
concept queue_statements = requires(S& s, message_id id, time_point t, admin_request r, const std::string& destination,
                                 const std::vector<std::int64_t>& ids, std::size_t n, bool exactly, bool remove, bool& found,
                                 std::chrono::milliseconds lease, std::vector<claimed_row>& claimed,
                                 std::vector<std::int64_t>& renewed, std::vector<queue_row>& rows, queue_counts& counts,
                                 const std::string& body, std::optional<std::int64_t> token, std::optional<folder_id> folder,
                                 write_found& written, std::int64_t& fence) {
    { s.save(id, body, t, token, written) } -> std::same_as<std::error_code>;               // t: the next attempt
    { s.finish(id, body, folder, remove, token, written) } -> std::same_as<std::error_code>;
    { s.message_exists(id, found) } -> std::same_as<std::error_code>;
    { s.queued(id, found) } -> std::same_as<std::error_code>;
    { s.leased(id, found) } -> std::same_as<std::error_code>;
    { s.hold(id, t, found) } -> std::same_as<std::error_code>;
    { s.release(id, t, found) } -> std::same_as<std::error_code>;
    { s.request(id, r, found) } -> std::same_as<std::error_code>;
    { s.remove_unless_leased(id, found) } -> std::same_as<std::error_code>; // found: deleted
    { s.hold_back(ids, ids, t, destination) } -> std::same_as<std::error_code>;
    { s.release_held_back(destination) } -> std::same_as<std::error_code>;
    { s.claim(t, n, lease, claimed) } -> std::same_as<std::error_code>;
    { s.claim_message(id, lease, fence, found) } -> std::same_as<std::error_code>; // found: leased to this claim
    { s.release_leases(ids, ids) } -> std::same_as<std::error_code>;
    { s.renew_leases(ids, ids, lease, renewed) } -> std::same_as<std::error_code>;
    { s.queue_rows(id, n, exactly, rows) } -> std::same_as<std::error_code>;
    { s.count_by_state(t, counts) } -> std::same_as<std::error_code>;
};

/// The rules over a backend's driver, which has:
/// - `lease_book& leases()`: this store object's claims;
/// - `std::chrono::milliseconds lease()`: how long a claim leases;
/// - `write(f)` and `read(f)`: f(session&) run in a write transaction, or in
///   a read; each returns f's error_code;
/// - `in_batch()`: whether this thread's writes are inside the store's batch();
/// - `fenced()`: whether claims are leases other processes may take, so that
///   a holder's write carries its token (not where one spooler owns the queue);
/// - `fail(ec, what)`: throws std::system_error for a read that cannot be
///   answered (an empty answer would look like an empty queue).
template <class Driver>
class durable_queue {
public:
    explicit durable_queue(Driver driver) : d_(std::move(driver)) {}

    // --- A claim holder's writes (docs/concepts/store.md, law Q3) ----------

    /// A save, by the holder of the message's claim where this object has one.
    template <class Message>
    std::error_code save(message_id id, const Message& m) {
        const std::string body = encode(m);
        return as_holder(id, false, [&](auto& s, std::optional<std::int64_t> token, write_found& found) {
            return s.save(id, body, next_attempt(m), token, found);
        });
    }
    /// A finish: out of the queue, then the body written and moved as the
    /// message's disposition says, or the message deleted (not written first).
    /// The claim leaves the book once the write is durable: inside batch(),
    /// when the batch commits.
    template <class Message>
    std::error_code finish(message_id id, const Message& m) {
        const bool deleted = std::holds_alternative<disposition::delete_after_submit>(m.sent_mail);
        const std::string body = deleted ? std::string{} : encode(m);
        const auto* move = std::get_if<disposition::move_to>(&m.sent_mail);
        const std::optional<folder_id> folder = move ? std::optional{move->folder} : std::nullopt;
        return as_holder(id, true, [&](auto& s, std::optional<std::int64_t> token, write_found& found) {
            return s.finish(id, body, folder, deleted, token, found);
        });
    }
    /// What a finish written elsewhere (a backend's bulk statement) found, as
    /// finish() alone would report it, with the same account of the claim.
    std::error_code finished(message_id id, std::optional<std::int64_t> token, const write_found& found) {
        return settle(id, true, token, found);
    }
    /// The token a claim holder's write carries: none without a claim (or
    /// where one spooler owns the queue); errc::lease_lost once the claim was
    /// found taken, and every later write is refused unwritten.
    result<std::optional<std::int64_t>> token(message_id id) const {
        const auto claim = d_.leases().find(id);
        if (!claim) return std::optional<std::int64_t>{};
        if (claim->lost) return make_error_code(errc::lease_lost);
        if (!d_.fenced()) return std::optional<std::int64_t>{};
        return std::optional{claim->fence};
    }

    // --- Administration (docs/administration.md) ----------------------------

    result<admin_outcome> hold(message_id id, time_point now) {
        return administer(id, [&](auto& s, bool& queued, admin_outcome&) { return s.hold(id, now, queued); });
    }
    result<admin_outcome> release(message_id id, time_point now) {
        return administer(id, [&](auto& s, bool& queued, admin_outcome&) { return s.release(id, now, queued); });
    }
    /// A removal deletes at once when no hand-off can be running: this object
    /// holds no claim on the message, and the backend finds no lease on it.
    /// Otherwise, and for every other request, it is recorded for a spooler
    /// to apply at the message's next pass.
    result<admin_outcome> request(message_id id, admin_request r) {
        if (r == admin_request::none)
            return administer(id, [&](auto& s, bool& queued, admin_outcome&) { return s.queued(id, queued); });
        return administer(id, [&](auto& s, bool& queued, admin_outcome& outcome) -> std::error_code {
            if (r == admin_request::remove && !d_.leases().holds(id)) {
                bool removed = false;
                if (auto ec = s.remove_unless_leased(id, removed)) return ec;
                if (removed) return (queued = true, std::error_code{});
            }
            outcome = admin_outcome::requested;
            return s.request(id, r, queued);
        });
    }

    /// A page of rows as listings show them: the one with id `from`
    /// (`exactly`), or up to n with ids above it. A row this object has
    /// claimed is in hand, whatever its lease in the database says.
    std::vector<queue_row> rows(message_id from, std::size_t n, bool exactly) const {
        std::vector<queue_row> out;
        if (auto ec = d_.read([&](auto& s) { return s.queue_rows(from, n, exactly, out); })) d_.fail(ec, "cannot list the queue");
        for (queue_row& row : out) row.leased = row.leased || d_.leases().holds(row.id);
        return out;
    }
    template <class Payload>
    std::vector<basic_queued_message<basic_message<Payload>>> list(const queue_filter& f, time_point now, message_id after,
                                                                   std::size_t limit) const {
        return list_matching<Payload>([&](message_id from, std::size_t n) { return rows(from, n, false); }, f, now, after, limit);
    }
    template <class Payload>
    result<basic_queued_message<basic_message<Payload>>> inspect(message_id id, time_point now) const {
        auto found = rows(id, 1, true);
        if (!found.empty()) return listed<Payload>(std::move(found.front()), now);
        std::error_code why;
        if (auto ec = d_.read([&](auto& s) { return why_not_queued(s, id, why); })) d_.fail(ec, "cannot inspect the queue");
        return why;
    }
    queue_counts count(time_point now) const {
        queue_counts counts;
        if (auto ec = d_.read([&](auto& s) { return s.count_by_state(now, counts); })) d_.fail(ec, "cannot count the queue");
        return counts;
    }

    // --- Waiting for a destination (docs/concepts/store.md) -----------------

    /// Written as the holder of each claim (law W1): a message this object
    /// has not claimed, or whose claim it lost, is another's to write.
    std::error_code hold_back(const std::vector<message_id>& ids, const std::string& destination, time_point until) {
        std::vector<std::int64_t> claimed, fences;
        for (message_id id : ids)
            if (const auto claim = d_.leases().find(id); claim && !claim->lost) {
                claimed.push_back(static_cast<std::int64_t>(id));
                fences.push_back(claim->fence);
            }
        if (claimed.empty()) return {};
        return d_.write([&](auto& s) { return s.hold_back(claimed, fences, until, destination); });
    }
    std::error_code release_held_back(const std::string& destination) {
        return d_.write([&](auto& s) { return s.release_held_back(destination); });
    }

    // --- The shared queue (docs/concepts/store.md, "A shared queue") -------

    /// Up to `limit` due rows, claimed in one transaction, booked with their
    /// new tokens, in queue order (submit time, then sequence), whatever order
    /// the backend's statement returned them in. Throws std::system_error.
    std::vector<claimed_row> claim(time_point now, std::size_t limit) {
        std::vector<claimed_row> claimed;
        auto ec = d_.write([&](auto& s) {
            claimed.clear();
            return s.claim(now, limit, d_.lease(), claimed);
        });
        if (ec) d_.fail(ec, "cannot claim due messages");
        std::ranges::sort(claimed, [](const claimed_row& a, const claimed_row& b) {
            return std::pair(a.entry.client_submit_time, a.sequence) < std::pair(b.entry.client_submit_time, b.sequence);
        });
        for (const claimed_row& row : claimed) d_.leases().claimed(row.entry.id, row.fence);
        return claimed;
    }

    /// One queued message, claimed by its id while no live lease holds it
    /// (this object's own claims included): true, booked with its new token;
    /// false when leased; errc::not_in_queue or not_found when not queued.
    result<bool> claim(message_id id) {
        if (d_.leases().holds(id)) return false;
        bool claimed = false;
        std::int64_t fence = 0;
        auto ec = d_.write([&](auto& s) -> std::error_code {
            if (auto ec = s.claim_message(id, d_.lease(), fence, claimed)) return ec;
            if (claimed) return {};
            bool queued = false;
            if (auto ec = s.queued(id, queued)) return ec;
            if (queued) return {};
            std::error_code why;
            if (auto ec = why_not_queued(s, id, why)) return ec;
            return why;
        });
        if (ec) return ec;
        if (claimed) d_.leases().claimed(id, fence);
        return claimed;
    }
    /// Ends this object's claim on `id`, unless another has taken it since.
    std::error_code release_claim(message_id id) {
        const auto claim = d_.leases().find(id);
        if (!claim) return {};
        if (!claim->lost)
            if (auto ec = d_.write([&](auto& s) {
                    return s.release_leases({static_cast<std::int64_t>(id)}, {claim->fence});
                }))
                return ec;
        d_.leases().forget(id);
        return {};
    }

    /// The end-of-pass account (lease_book::plan_account), written in one
    /// transaction: claims not in hand released, those in hand renewed when
    /// due; a renewal that finds a claim taken marks it lost (law Q3).
    std::error_code account(const std::vector<message_id>& in_hand, std::chrono::milliseconds renewal_interval) {
        const auto planned = d_.leases().plan_account(in_hand, renewal_interval);
        if (planned.empty()) return {};
        std::vector<std::int64_t> renewed;
        auto ec = d_.write([&](auto& s) -> std::error_code {
            renewed.clear();
            if (!planned.release_ids.empty())
                if (auto ec = s.release_leases(planned.release_ids, planned.release_fences)) return ec;
            if (planned.renew_ids.empty()) return {};
            return s.renew_leases(planned.renew_ids, planned.renew_fences, d_.lease(), renewed);
        });
        if (!ec) d_.leases().accounted(planned, std::move(renewed));
        return ec;
    }

    /// Whether another store object holds the message leased now.
    bool leased_elsewhere(message_id id) const {
        if (const auto claim = d_.leases().find(id); claim && !claim->lost) return false;
        bool leased = false;
        if (auto ec = d_.read([&](auto& s) { return s.leased(id, leased); })) d_.fail(ec, "cannot read a lease");
        return leased;
    }

private:
    template <class Write>
    std::error_code as_holder(message_id id, bool ends_claim, Write&& w) {
        const auto held = token(id);
        if (!held) return held.error();
        write_found found;
        if (auto ec = d_.write([&](auto& s) {
                found = {};
                return w(s, *held, found);
            }))
            return ec;
        return settle(id, ends_claim, *held, found);
    }
    // A write not made with a token means the token is stale: another
    // process claimed the message since, and this claim is marked lost.
    std::error_code settle(message_id id, bool ends_claim, std::optional<std::int64_t> token, const write_found& found) {
        if (found.written) {
            if (ends_claim && d_.leases().holds(id)) {
                if (d_.in_batch()) d_.leases().finished_in_batch(id);
                else d_.leases().forget(id);
            }
            return {};
        }
        if (token) {
            d_.leases().lost(id);
            return errc::lease_lost;
        }
        return found.message_exists ? errc::not_in_queue : errc::not_found;
    }

    // An administrative change, one transaction: `applied` (or what the change
    // says it did) when the message was queued; else errc::not_in_queue, or
    // not_found for an unknown id.
    template <class Change>
    result<admin_outcome> administer(message_id id, Change&& change) {
        admin_outcome outcome = admin_outcome::applied;
        auto ec = d_.write([&](auto& s) -> std::error_code {
            bool queued = false;
            if (auto ec = change(s, queued, outcome)) return ec;
            if (queued) return {};
            std::error_code why;
            if (auto ec = why_not_queued(s, id, why)) return ec;
            return why;
        });
        if (ec) return ec;
        return outcome;
    }
    template <class Session>
    static std::error_code why_not_queued(Session& s, message_id id, std::error_code& why) {
        bool exists = false;
        if (auto ec = s.message_exists(id, exists)) return ec;
        why = exists ? errc::not_in_queue : errc::not_found;
        return {};
    }

    Driver d_;
};

} // namespace spool::detail
