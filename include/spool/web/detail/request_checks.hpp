#pragma once

// Who is asking, and may they: the API token or the session cookie a request
// carries, whether a POST comes from the dashboard's own pages (its Origin,
// and its CSRF token), and the client behind trusted reverse proxies.

#include <spool/web/detail/random.hpp>
#include <spool/web/detail/text.hpp>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spool::detail::web {

using request = boost::beast::http::request<boost::beast::http::string_body>;

inline std::string_view trimmed(std::string_view v) {
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
    return v;
}

/// The token of `Authorization: Bearer …`; empty for another scheme (no
/// valid token), none without the header.
inline std::optional<std::string> bearer_token(const request& r) {
    const auto h = r.find(boost::beast::http::field::authorization);
    if (h == r.end()) return std::nullopt;
    const std::string_view v = h->value();
    if (v.substr(0, 7) != "Bearer ") return std::string();
    return std::string(v.substr(7));
}

/// The value of the cookie `name`, or empty.
inline std::string cookie_value(const request& r, std::string_view name) {
    const auto header = r.find(boost::beast::http::field::cookie);
    if (header == r.end()) return {};
    std::string_view rest = header->value();
    while (!rest.empty()) {
        const std::size_t semi = rest.find(';');
        const std::string_view c = trimmed(rest.substr(0, semi));
        rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
        if (c.size() > name.size() && c.substr(0, name.size()) == name && c[name.size()] == '=') return std::string(c.substr(name.size() + 1));
    }
    return {};
}

/// The first of a forwarded header's comma-separated values: the one the
/// proxy nearest the browser wrote.
inline std::string_view first_forwarded(std::string_view v) { return trimmed(v.substr(0, v.find(','))); }

/// A browser names the page's origin on a POST; one from elsewhere is
/// refused. The origin is the host the browser asked for: Host, or behind a
/// trusted proxy (`proxied`) the one it forwards, with its scheme.
inline bool same_origin(const request& r, bool proxied) {
    const auto origin = r.find(boost::beast::http::field::origin);
    if (origin == r.end()) return true; // not a browser's cross-site POST (browsers send Origin on those)
    std::string_view host, scheme;
    if (const auto h = r.find(boost::beast::http::field::host); h != r.end()) host = h->value();
    if (proxied) {
        if (const auto h = r.find("X-Forwarded-Host"); h != r.end()) host = first_forwarded(h->value());
        if (const auto p = r.find("X-Forwarded-Proto"); p != r.end()) scheme = first_forwarded(p->value());
    }
    if (host.empty()) return false;
    const std::string_view o = origin->value();
    const std::size_t sep = o.find("://");
    if (sep == std::string_view::npos || o.substr(sep + 3) != host) return false;
    return scheme.empty() || o.substr(0, sep) == scheme;
}

inline bool listed(const std::vector<std::string>& addresses, std::string_view address) {
    return std::find(addresses.begin(), addresses.end(), address) != addresses.end();
}

/// The client behind trusted proxies: X-Forwarded-For's addresses, read
/// from the right, past every trusted proxy. The ones further left were
/// written by whoever sent the request, and prove nothing.
inline std::string forwarded_client(const request& r, const std::string& peer, const std::vector<std::string>& trusted_proxies) {
    const auto h = r.find("X-Forwarded-For");
    if (h == r.end()) return peer;
    std::string_view rest = h->value();
    while (!rest.empty()) {
        const std::size_t comma = rest.rfind(',');
        const std::string_view last = trimmed(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
        if (!last.empty() && !listed(trusted_proxies, last)) return std::string(last);
    }
    return peer;
}

/// Whether a POST carries the session's CSRF token, in the header
/// X-CSRF-Token or as the form's one field `csrf`.
inline bool carries_csrf(const request& r, const std::string& csrf) {
    std::string given;
    if (const auto h = r.find("X-CSRF-Token"); h != r.end()) given = std::string(h->value());
    else if (const auto form = form_pairs(r.body())) {
        int tokens = 0; // the form's fields may repeat (checked boxes), its token may not
        for (const auto& [name, value] : *form)
            if (name == "csrf" && ++tokens == 1) given = value;
        if (tokens != 1) return false;
    }
    return same_bytes(given, csrf);
}

} // namespace spool::detail::web
