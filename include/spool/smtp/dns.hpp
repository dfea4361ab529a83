#pragma once

// MX lookup on the system resolver (glibc's res_nquery, libresolv), for the
// SMTP transport's direct delivery: RFC 5321 §5.1 (MX by preference, equal
// preferences shuffled, the domain's own address when it has no MX) and
// RFC 7505 (null MX). Opt in by naming it:
//   spool::basic_smtp_transport<spool::dns_resolver> smtp{options};
// Link: spool::smtp (which links libresolv).

#include <spool/smtp/route.hpp>

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace spool {

class dns_resolver {
public:
    struct options {
        std::uint16_t port = 25; ///< the SMTP port of every host found
        /// Ask this name server (an IPv4 address and port) instead of the ones
        /// in /etc/resolv.conf: a local resolver, or a test's.
        std::optional<std::pair<std::string, std::uint16_t>> nameserver{};
        /// Look hosts' addresses up here too (A and AAAA records), rather than
        /// through getaddrinfo; always so when a name server is given.
        bool addresses_from_dns = false;
        std::size_t max_addresses = 5; ///< Postfix's smtp_mx_address_limit
        /// How long to wait for each answer, and how many times to ask each
        /// name server (resolv.conf's `timeout:` and `attempts:`). Unset:
        /// /etc/resolv.conf's, or 2 s and 2 tries with `nameserver`.
        std::optional<std::chrono::seconds> timeout{};
        std::optional<int> attempts{};
    };

    dns_resolver() = default;
    explicit dns_resolver(options o) : options_(std::move(o)) {}

    smtp_route resolve(std::string_view domain) const {
        state st;
        if (!st.ok) return smtp_route::failure(smtp_route::kind::lookup_failed, "the system resolver did not start");
        configure(st.res);
        const std::string name(domain);
        answer mx;
        if (!query(st.res, name, ns_t_mx, mx)) {
            if (mx.rcode == ns_r_nxdomain)
                return smtp_route::failure(smtp_route::kind::no_such_domain, "Host or domain name not found: " + name);
            if (mx.rcode != ns_r_noerror || !mx.received)
                return smtp_route::failure(smtp_route::kind::lookup_failed, "MX lookup for " + name + " failed");
        }
        std::vector<std::pair<unsigned, std::string>> exchanges;
        for (const auto& rr : mx.records) {
            if (rr.size() < 3) continue;
            const unsigned preference = (unsigned(std::uint8_t(rr.data[0])) << 8) | std::uint8_t(rr.data[1]);
            char host[NS_MAXDNAME];
            if (dn_expand(mx.message.data(), mx.message.data() + mx.message.size(), rr.data + 2, host, sizeof host) < 0)
                continue;
            exchanges.emplace_back(preference, host);
        }
        if (exchanges.size() == 1 && (exchanges[0].second.empty() || exchanges[0].second == "."))
            return smtp_route::failure(smtp_route::kind::null_mx, name + " accepts no mail (null MX)");
        if (exchanges.empty()) exchanges.emplace_back(0, name); // the implicit MX
        std::stable_sort(exchanges.begin(), exchanges.end(), [](auto& a, auto& b) { return a.first < b.first; });
        shuffle_equal(exchanges);

        std::vector<smtp_host> hosts;
        std::size_t addresses = 0;
        for (auto& [preference, host] : exchanges) {
            smtp_host h{host, options_.port, {}};
            if (options_.addresses_from_dns || options_.nameserver) {
                for (int type : {int(ns_t_a), int(ns_t_aaaa)}) {
                    answer a;
                    query(st.res, host, type, a);
                    for (const auto& rr : a.records) {
                        char text[INET6_ADDRSTRLEN];
                        const int family = type == ns_t_a ? AF_INET : AF_INET6;
                        if (rr.size() == (family == AF_INET ? 4u : 16u) && inet_ntop(family, rr.data, text, sizeof text))
                            h.addresses.emplace_back(text);
                    }
                }
                if (h.addresses.empty()) continue;
                if (addresses + h.addresses.size() > options_.max_addresses)
                    h.addresses.resize(options_.max_addresses - std::min(addresses, options_.max_addresses));
                addresses += h.addresses.size();
                if (h.addresses.empty()) break;
            }
            hosts.push_back(std::move(h));
        }
        if (hosts.empty())
            return smtp_route::failure(smtp_route::kind::lookup_failed, "no address found for the mail exchangers of " + name);
        return smtp_route::to(std::move(hosts));
    }

private:
    struct state {
        struct __res_state res {};
        bool ok = res_ninit(&res) == 0;
        state() = default;
        state(const state&) = delete;
        state& operator=(const state&) = delete;
        ~state() {
            if (ok) res_nclose(&res);
        }
    };
    struct record {
        const unsigned char* data;
        std::size_t length;
        std::size_t size() const noexcept { return length; }
    };
    struct answer {
        std::vector<unsigned char> message = std::vector<unsigned char>(65536);
        std::vector<record> records;
        int rcode = ns_r_noerror;
        bool received = false;
    };

    void configure(struct __res_state& res) const {
        res.options &= ~static_cast<unsigned long>(RES_DNSRCH | RES_DEFNAMES); // no search domains for MX
        if (options_.nameserver) {
            sockaddr_in server{};
            server.sin_family = AF_INET;
            server.sin_port = htons(options_.nameserver->second);
            inet_pton(AF_INET, options_.nameserver->first.c_str(), &server.sin_addr);
            res.nsaddr_list[0] = server;
            res.nscount = 1;
            res.retrans = 2;
            res.retry = 2;
        }
        if (options_.timeout) res.retrans = static_cast<int>(std::max<std::chrono::seconds::rep>(options_.timeout->count(), 1));
        if (options_.attempts) res.retry = std::max(*options_.attempts, 1);
    }

    // One query; false when it failed or found nothing. The records of `type`
    // in the answer section point into `out.message`.
    static bool query(struct __res_state& res, const std::string& name, int type, answer& out) {
        const int n = res_nquery(&res, name.c_str(), ns_c_in, type, out.message.data(), int(out.message.size()));
        if (n < 0) {
            out.rcode = res.res_h_errno == HOST_NOT_FOUND ? ns_r_nxdomain
                        : res.res_h_errno == NO_DATA      ? ns_r_noerror
                                                          : ns_r_servfail;
            out.received = res.res_h_errno == HOST_NOT_FOUND || res.res_h_errno == NO_DATA;
            return false;
        }
        out.received = true;
        out.message.resize(std::size_t(n));
        ns_msg msg;
        if (ns_initparse(out.message.data(), n, &msg) < 0) return false;
        out.rcode = ns_msg_getflag(msg, ns_f_rcode);
        for (int i = 0; i < ns_msg_count(msg, ns_s_an); ++i) {
            ns_rr rr;
            if (ns_parserr(&msg, ns_s_an, i, &rr) < 0) continue;
            if (ns_rr_type(rr) == type) out.records.push_back({ns_rr_rdata(rr), static_cast<std::size_t>(ns_rr_rdlen(rr))});
        }
        return !out.records.empty();
    }

    static void shuffle_equal(std::vector<std::pair<unsigned, std::string>>& v) {
        thread_local std::minstd_rand random{std::random_device{}()};
        for (auto first = v.begin(); first != v.end();) {
            auto last = std::find_if(first, v.end(), [&](auto& e) { return e.first != first->first; });
            std::shuffle(first, last, random);
            first = last;
        }
    }

    options options_{};
};

} // namespace spool
