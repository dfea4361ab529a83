#pragma once

// Where the SMTP transport sends mail for a domain when no relay host is set:
// the next hops in the order to try them (RFC 5321 §5.1). A resolver is a
// policy; spool ships a static map (here) and a DNS MX resolver on the system
// resolver (<spool/smtp/dns.hpp>).

#include <concepts>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spool {

/// One server to try: a name and port, and, where the resolver already knows
/// them, its addresses (else the transport looks the name up).
struct smtp_host {
    std::string name;
    std::uint16_t port = 25;
    std::vector<std::string> addresses{};
    friend bool operator==(const smtp_host&, const smtp_host&) = default;
};

/// A resolver's answer for one domain.
struct smtp_route {
    enum class kind {
        hosts,          ///< try `hosts`, in order
        null_mx,        ///< RFC 7505: the domain accepts no mail (recipients fail, 5.1.10)
        no_such_domain, ///< the domain does not exist (recipients fail, 5.1.2)
        lookup_failed,  ///< a temporary failure (recipients are deferred, 4.4.3)
    };
    kind what = kind::hosts;
    std::vector<smtp_host> hosts{};
    std::string error{}; ///< why, for the last three kinds

    static smtp_route to(std::vector<smtp_host> hosts) { return {kind::hosts, std::move(hosts), {}}; }
    static smtp_route failure(kind k, std::string why) { return {k, {}, std::move(why)}; }
};

/// A type that finds the next hops for a domain. `resolve` may block: it runs
/// on the transport's lookup threads (smtp_options::lookup_threads), never on
/// its I/O thread. A const `resolve` is called from several of them at once
/// and must allow it; a non-const one is called one call at a time.
template <class R>
concept SmtpResolver = requires(R& r, std::string_view domain) {
    { r.resolve(domain) } -> std::convertible_to<smtp_route>;
};

/// Next hops from a fixed map, for tests, split-horizon set-ups and hosts
/// without DNS. A domain that is not in the map is its own next hop (RFC 5321
/// §5.1's implicit MX) on `port`.
class static_resolver {
public:
    static_resolver() = default;
    explicit static_resolver(std::map<std::string, std::vector<smtp_host>, std::less<>> routes, std::uint16_t port = 25)
        : routes_(std::move(routes)), port_(port) {}

    smtp_route resolve(std::string_view domain) const {
        if (auto it = routes_.find(domain); it != routes_.end()) return smtp_route::to(it->second);
        return smtp_route::to({smtp_host{std::string(domain), port_, {}}});
    }

private:
    std::map<std::string, std::vector<smtp_host>, std::less<>> routes_;
    std::uint16_t port_ = 25;
};

} // namespace spool
