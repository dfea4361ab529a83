#pragma once

// How the SMTP transport behaves. Every default is Postfix's where Postfix has
// one (mail_params.h), so that an administrator finds what they know.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace spool {

/// STARTTLS (RFC 3207).
enum class smtp_tls {
    none,          ///< never: plain text even when the server offers STARTTLS
    opportunistic, ///< when offered, without checking the certificate (Postfix "may"); a failed handshake is a site failure
    required,      ///< always, without checking the certificate (Postfix "encrypt"); not offered is a site failure
    verify,        ///< always, and the certificate must name the host (RFC 6125) and chain to a trusted root (Postfix "verify")
};

/// Per-phase time limits (RFC 5321 §4.5.3.2: per command, not per
/// transaction), Postfix's smtp_*_timeout defaults. Each is a deadline for its
/// whole phase, from its start: a reply must arrive whole within it, however
/// the server paces it.
struct smtp_timeouts {
    std::chrono::milliseconds connect{30'000};
    std::chrono::milliseconds greeting{300'000}; ///< the 220 banner and EHLO/HELO, together (again after STARTTLS)
    std::chrono::milliseconds starttls{300'000};
    std::chrono::milliseconds auth{300'000}; ///< AUTH, every exchange of it
    std::chrono::milliseconds mail{300'000};
    std::chrono::milliseconds rcpt{300'000};
    std::chrono::milliseconds data_init{120'000}; ///< DATA to 354
    std::chrono::milliseconds data_xfer{180'000}; ///< writing each 64 KiB of the message
    std::chrono::milliseconds data_done{600'000}; ///< the final "." to its reply
    std::chrono::milliseconds rset{20'000};
    std::chrono::milliseconds quit{300'000};
};

/// AUTH PLAIN or LOGIN (RFC 4954, RFC 4616), whichever the server offers, PLAIN first.
struct smtp_credentials {
    std::string username;
    std::string password;
    /// Send the password on a connection without TLS. Off, as Postfix's
    /// smtp_sasl_security_options = noplaintext: then a plain-text connection
    /// that would need AUTH is a site failure.
    bool allow_without_tls = false;
};

/// A smarthost: every message goes there, whatever its recipients' domains.
struct smtp_relay {
    std::string host;
    std::uint16_t port = 25;
};

struct smtp_options {
    /// Send everything to this host (Postfix relayhost). Without one, the
    /// resolver finds each domain's next hops.
    std::optional<smtp_relay> relay{};
    /// The name given in EHLO/HELO (Postfix myhostname).
    std::string helo_name = "localhost";
    smtp_tls tls = smtp_tls::opportunistic;
    /// TLS from the first byte (RFC 8314, submissions on port 465) instead of STARTTLS.
    bool implicit_tls = false;
    /// For smtp_tls::verify: a PEM file of trusted roots; empty for the system's.
    std::string ca_file{};
    std::optional<smtp_credentials> credentials{};
    smtp_timeouts timeouts{};
    /// RCPT commands in one transaction (RFC 5321 §4.5.3.1.8); a 452 "too many
    /// recipients" sends the rest in the next transaction.
    std::size_t max_recipients = 100;
    /// An idle connection is kept this long for the next message to the same
    /// destination (Postfix smtp_connection_cache_time_limit).
    std::chrono::milliseconds idle_limit{2'000};
    /// A connection is not reused once this old (smtp_connection_reuse_time_limit).
    std::chrono::milliseconds reuse_limit{300'000};
    /// RFC 3461 RET for MAIL FROM when the server offers DSN: "FULL", "HDRS", or empty to leave it out.
    std::string dsn_return{};
    /// The spool's secret for the envelope ids it sends (RFC 3461 ENVID):
    /// "spool.<id>.<MAC>" (smtp_envelope_id), so that only a report about a
    /// message this spool sent is matched when it comes back. Keep it across
    /// restarts, and the same for every process of one spool. Empty: the id is
    /// "spool.<id>", and no report mailed back can be matched.
    std::string envelope_id_secret{};
    /// Threads that run the resolver's lookups, so that a slow or stalled
    /// lookup for one domain does not hold up another's. Without a relay,
    /// every hand-off starts with one.
    std::size_t lookup_threads = 8;
};

} // namespace spool
