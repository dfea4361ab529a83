#pragma once

// What a listing shows: the filter of the messages page and of the actions on
// everything matching, parsed from a query, and the test of a message's last
// error text, which the store cannot index (a reason is inside the stored
// message), so a page scans a bounded number of rows for it.

#include <spool/administration.hpp>
#include <spool/message.hpp>
#include <spool/web/detail/text.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace spool::detail::web {

using fields = std::map<std::string, std::string, std::less<>>;

inline std::optional<std::uint64_t> parse_number(std::string_view text) {
    std::uint64_t v = 0;
    const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || p != text.data() + text.size() || text.empty()) return std::nullopt;
    return v;
}

inline std::optional<message_id> parse_id(std::string_view text) {
    const auto v = parse_number(text);
    if (!v || *v == 0) return std::nullopt;
    return message_id{*v};
}

inline constexpr spool::queue_state listed_states[] = {spool::queue_state::due, spool::queue_state::deferred, spool::queue_state::held, spool::queue_state::in_hand,
                                                spool::queue_state::waiting};

/// A listing's filter: what the store filters (state, domain, age), the
/// error text the dashboard looks for itself, and where the page starts.
struct listing {
    queue_filter filter;
    std::string error_text; ///< in a recipient's last reply, without case; empty: any
    message_id after{};
    std::string query; ///< the filter again, without `after`, for links

    /// Whether `m` passes the part of the filter the store cannot apply.
    template <class Queued>
    bool matches(const Queued& q) const {
        if (error_text.empty()) return true;
        if (!q.message) return false;
        for (const recipient& r : q.message->recipients) {
            if (const auto* d = std::get_if<status::deferred>(&r.status))
                if (contains(d->reason) || contains(d->diagnostic)) return true;
            if (const auto* f = std::get_if<status::failed>(&r.status))
                if (contains(f->reason) || contains(f->diagnostic)) return true;
        }
        return false;
    }

private:
    bool contains(std::string_view text) const {
        return std::search(text.begin(), text.end(), error_text.begin(), error_text.end(),
                           [](char a, char b) { return fold_case(a) == fold_case(b); }) != text.end();
    }
};

/// The listing a query asks for (state, domain, older_than in seconds, error,
/// after), or why the query is malformed.
inline std::variant<listing, std::string> listing_of(const fields& query) {
    listing l;
    for (const auto& [name, value] : query) {
        if (value.empty()) continue;
        if (name == "state") {
            std::optional<spool::queue_state> st;
            for (auto x : listed_states)
                if (to_string(x) == value) st = x;
            if (!st) return "state is due, deferred, held, in_hand or waiting, not '" + value + "'";
            l.filter.state = st;
        } else if (name == "domain") {
            l.filter.domain = address_domain("@" + value);
        } else if (name == "older_than") {
            const auto n = parse_number(value);
            if (!n) return "older_than is a number of seconds, not '" + value + "'";
            l.filter.older_than = std::chrono::seconds{static_cast<std::int64_t>(std::min<std::uint64_t>(*n, 1ull << 40))};
            continue;
        } else if (name == "error") {
            if (value.size() > 200) return "error is at most 200 characters";
            l.error_text = value;
        } else if (name == "after") {
            const auto id = parse_id(value);
            if (!id) return "after is a message id, not '" + value + "'";
            l.after = *id;
            continue;
        } else {
            return "unknown filter field '" + name + "' (state, domain, older_than, error, after)";
        }
        l.query += (l.query.empty() ? "" : "&") + name + "=" + percent_encoded(value);
    }
    if (l.filter.older_than) l.query += std::string(l.query.empty() ? "" : "&") + "older_than=" + std::to_string(l.filter.older_than->count());
    return l;
}

} // namespace spool::detail::web
