#pragma once

// The SMTP dialogue of one hand-off: opening a session with a next hop
// (greeting, EHLO or HELO, STARTTLS, AUTH) and the mail transactions
// (MAIL, RCPT, DATA, pipelined when offered, RFC 2920), with every reply
// turned into a per-recipient outcome. Not a template: the transport turns a
// spool::transmission into a `job` and back, so this is compiled once.

#include <spool/mail/detail/text.hpp>
#include <spool/smtp/detail/connection.hpp>
#include <spool/smtp/detail/wire.hpp>
#include <spool/smtp/options.hpp>
#include <spool/smtp/route.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace spool::detail::smtp {

/// What became of one recipient.
struct outcome {
    enum class kind { none, sent, deferred, failed } what = kind::none;
    std::string reason;     ///< the server's reply, "550 5.1.1 <x>: unknown", or spool's words
    std::string diagnostic; ///< the RFC 3463 code
    bool next_hop_reports = false; ///< sent to a server that took DSN NOTIFY: it makes the reports
    bool elsewhere = false; ///< deferred by this host's own refusal (RCPT 4xx): the next MX may take it
};

struct job_recipient {
    std::string address;
    std::string notify; ///< RFC 3461 NOTIFY value
    outcome result{};
};

/// One hand-off, in the transport's own terms.
struct job {
    std::string destination; ///< the next hop's key: "[relay]:port" or the domain
    std::string domain;      ///< where the resolver looks when there is no relay
    std::string sender;
    std::vector<job_recipient> recipients;
    std::string data;        ///< the message, dot-stuffed and ended with "." CR LF
    std::size_t size = 0;    ///< the message's size before dot-stuffing, for SIZE=
    bool eight_bit = false;
    bool needs_smtputf8 = false;
    std::string envelope_id; ///< RFC 3461 ENVID

    enum class end { done, site_failure, message_failed, cancelled };
    end result = end::done;
    std::string reason;
    std::string diagnostic;

    void fail(end how, std::string why, std::string code) {
        result = how;
        reason = std::move(why);
        diagnostic = std::move(code);
    }
    /// Every recipient not reported yet gets this outcome.
    void settle_rest(outcome::kind k, const std::string& why, const std::string& code) {
        for (auto& r : recipients)
            if (r.result.what == outcome::kind::none) r.result = {k, why, code, false};
    }
};

/// A failure to get a session going with a host (site failure: try the next host).
struct site_error : std::runtime_error {
    std::string code;
    site_error(std::string what, std::string c) : std::runtime_error(std::move(what)), code(std::move(c)) {}
};

struct session_settings {
    const smtp_options* options = nullptr;
    asio::ssl::context* tls_context = nullptr;        ///< no certificate check
    asio::ssl::context* verifying_context = nullptr;  ///< checks chain and host name
};

/// What a refusal means for the recipients it concerns: 5xx fails them, any
/// other reply defers them (a reply of a class the command cannot have, such
/// as a 3xx to RCPT, as 4.0.0). The server's words are the reason.
inline outcome refused_by(const reply& r) {
    if (r.kind() == 5) return {outcome::kind::failed, r.line(), r.enhanced};
    return {outcome::kind::deferred, r.line(), r.kind() == 4 ? r.enhanced : "4.0.0"};
}

namespace session {

// EHLO, or HELO where EHLO is refused, within the greeting's deadline.
inline asio::awaitable<void> greet(connection& c, const session_settings& s, connection::clock::time_point until) {
    const auto& o = *s.options;
    const reply hello = co_await c.command("EHLO " + o.helo_name + "\r\n", until, "EHLO");
    if (hello.kind() == 2) {
        c.ext = extensions::from_ehlo(hello);
        co_return;
    }
    const reply helo = co_await c.command("HELO " + o.helo_name + "\r\n", until, "HELO");
    if (helo.kind() != 2) throw site_error("HELO refused by " + c.host() + ": " + helo.line(), helo.enhanced);
    c.ext = extensions{};
}

inline asio::awaitable<void> authenticate(connection& c, const session_settings& s) {
    const auto& o = *s.options;
    const auto& who = *o.credentials;
    if (!c.encrypted() && !who.allow_without_tls)
        throw site_error("not sending credentials to " + c.host() + " without TLS (smtp_credentials::allow_without_tls is off)", "4.7.0");
    if (!c.ext.auth_plain && !c.ext.auth_login)
        throw site_error(c.host() + " offers neither AUTH PLAIN nor AUTH LOGIN", "4.7.0");
    const auto limit = connection::within(o.timeouts.auth);
    auto b64 = [](std::string_view in) {
        std::string out;
        base64(out, in);
        return out;
    };
    reply r;
    if (c.ext.auth_plain) {
        std::string token;
        token += '\0';
        token += who.username;
        token += '\0';
        token += who.password;
        r = co_await c.command("AUTH PLAIN " + b64(token) + "\r\n", limit, "AUTH");
    } else {
        r = co_await c.command("AUTH LOGIN\r\n", limit, "AUTH");
        if (r.code == 334) r = co_await c.command(b64(who.username) + "\r\n", limit, "AUTH");
        if (r.code == 334) r = co_await c.command(b64(who.password) + "\r\n", limit, "AUTH");
    }
    // Postfix's smtp_sasl_auth_soft_bounce: a refused login waits for the
    // administrator; it never bounces the mail.
    if (r.code != 235) throw site_error("authentication failed at " + c.host() + ": " + r.line(), r.kind() == 4 ? r.enhanced : "4.7.0");
}

/// Greeting to a session ready for MAIL: banner, EHLO, STARTTLS and EHLO again, AUTH.
inline asio::awaitable<void> start(connection& c, const session_settings& s) {
    const auto& o = *s.options;
    const bool verify = o.tls == smtp_tls::verify;
    if (o.implicit_tls) co_await c.start_tls(verify ? *s.verifying_context : *s.tls_context, verify, o.timeouts.starttls);
    const auto greeting = connection::within(o.timeouts.greeting);
    const reply banner = co_await c.read(greeting, "greeting");
    if (banner.kind() != 2) throw site_error("greeting from " + c.host() + ": " + banner.line(), banner.kind() == 5 ? "4.4.0" : banner.enhanced);
    co_await greet(c, s, greeting);
    if (!o.implicit_tls && o.tls != smtp_tls::none) {
        if (c.ext.starttls) {
            const reply r = co_await c.command("STARTTLS\r\n", o.timeouts.starttls, "STARTTLS");
            if (r.code == 220) {
                co_await c.start_tls(verify ? *s.verifying_context : *s.tls_context, verify, o.timeouts.starttls);
                co_await greet(c, s, connection::within(o.timeouts.greeting));
            } else if (o.tls != smtp_tls::opportunistic) {
                throw site_error("STARTTLS refused by " + c.host() + ": " + r.line(), "4.7.4");
            }
        } else if (o.tls != smtp_tls::opportunistic) {
            throw site_error(c.host() + " does not offer STARTTLS, and TLS is required", "4.7.4");
        }
    }
    if (o.credentials) co_await authenticate(c, s);
}

/// A session ready for MAIL, or why none could be had: the last host's failure.
struct opening {
    std::shared_ptr<connection> c;
    std::string error = "no host to connect to";
    std::string code = "4.4.1";
};

/// Connects to the first host, from `first` on, that gives a working session.
/// Cancelling the hand-off ends the search at its next step.
inline asio::awaitable<opening> open(const std::vector<smtp_host>& hosts, const session_settings& s, std::size_t first = 0) {
    const auto ex = co_await asio::this_coro::executor;
    opening out;
    for (std::size_t index = first; index < hosts.size(); ++index) {
        const smtp_host& h = hosts[index];
        std::vector<tcp::endpoint> endpoints;
        if (!h.addresses.empty()) {
            for (const auto& a : h.addresses) {
                boost::system::error_code bad;
                const auto address = asio::ip::make_address(a, bad);
                if (!bad) endpoints.emplace_back(address, h.port);
            }
        } else {
            tcp::resolver resolver(ex);
            const auto [ec, found] = co_await resolver.async_resolve(h.name, std::to_string(h.port), asio::as_tuple(asio::use_awaitable));
            if (ec) {
                out.error = "cannot find the address of " + h.name + ": " + ec.message();
                out.code = "4.4.3";
                continue;
            }
            for (const auto& e : found) endpoints.push_back(e.endpoint());
        }
        for (const auto& to : endpoints) {
            auto c = std::make_shared<connection>(ex, h.name);
            c->host_index = index;
            try {
                co_await c->connect(to, s.options->timeouts.connect);
                co_await start(*c, s);
                out.c = std::move(c);
                co_return out;
            } catch (const site_error& e) {
                c->close();
                out.error = e.what();
                out.code = e.code;
            } catch (const stream_error& e) {
                out.error = e.what();
                out.code = c->encrypted() ? "4.7.5" : "4.4.1";
            }
        }
    }
    co_return out;
}

inline std::string mail_command(const job& j, const extensions& ext, const smtp_options& o) {
    std::string cmd = "MAIL FROM:<" + j.sender + ">";
    if (ext.size_offered) cmd += " SIZE=" + std::to_string(j.size);
    if (j.eight_bit && ext.eight_bit_mime) cmd += " BODY=8BITMIME";
    if (j.needs_smtputf8) cmd += " SMTPUTF8";
    if (ext.dsn) {
        if (!o.dsn_return.empty()) cmd += " RET=" + o.dsn_return;
        if (!j.envelope_id.empty()) cmd += " ENVID=" + xtext(j.envelope_id.substr(0, 100));
    }
    return cmd + "\r\n";
}

inline std::string rcpt_command(const job_recipient& r, const extensions& ext, bool utf8) {
    std::string cmd = "RCPT TO:<" + r.address + ">";
    if (ext.dsn) {
        if (!r.notify.empty()) cmd += " NOTIFY=" + r.notify;
        cmd += (utf8 && has_8bit(r.address) ? " ORCPT=utf-8;" : " ORCPT=rfc822;") + xtext(r.address);
    }
    return cmd + "\r\n";
}

/// Whether a message can go on this connection at all (RFC 1870, 6152, 6531);
/// if not, the job fails as a whole, as Postfix fails it.
inline bool acceptable(job& j, const connection& c) {
    if (c.ext.size_limit && j.size > c.ext.size_limit) {
        j.fail(job::end::message_failed, "message size " + std::to_string(j.size) + " exceeds size limit " + std::to_string(c.ext.size_limit) +
                           " of server " + c.host(),
                       "5.3.4");
        return false;
    }
    if (j.needs_smtputf8 && !c.ext.smtputf8) {
        j.fail(job::end::message_failed, "SMTPUTF8 is required, but was not offered by host " + c.host(), "5.6.7");
        return false;
    }
    if (j.eight_bit && !c.ext.eight_bit_mime) {
        j.fail(job::end::message_failed, "8-bit content, and host " + c.host() + " does not offer 8BITMIME", "5.6.3");
        return false;
    }
    return true;
}

/// A recipient a transaction refused as one too many, with the server's words.
struct overflowed {
    std::size_t recipient;
    reply why;
};

/// What one transaction left. Every recipient the server answered has its
/// outcome in the job; these are the rest.
struct transaction {
    /// Refused as too many (too_many_recipients): for the next transaction.
    std::vector<overflowed> overflow{};
    /// The connection can carry another transaction.
    bool reusable = true;
    /// The server answered MAIL. Until it did, nothing was accepted, so
    /// another connection may try the same recipients.
    bool answered = false;
    /// The connection failed (an I/O error, a timeout, a 421): its
    /// recipients without an outcome get this one.
    std::optional<stream_error> broken{};
};

namespace steps {
// A 421 ends the session. A 530 (authentication required, RFC 4954) is the
// sending side's configuration, not the message's fault: the site waits, as
// after a refused AUTH, and nothing bounces. Both in the server's words.
inline void session_refusal(const connection& c, const reply& m, const smtp_options& o) {
    if (m.code == 421) throw stream_error(c.host() + ": " + m.line(), m.enhanced);
    if (m.code == 530)
        throw site_error(c.host() + " requires authentication to send: " + m.line() +
                             (o.credentials ? "" : " (no smtp_credentials are configured)"),
                         "4.7.0");
}

// MAIL and a RCPT for each of `batch` (with DATA after them when pipelined,
// RFC 2920); the recipients the server accepted. A refused one has its
// outcome; one refused as too many goes to end.overflow.
inline asio::awaitable<std::vector<std::size_t>> envelope(connection& c, job& j, std::span<const std::size_t> batch,
                                                          transaction& end, const smtp_options& o) {
    const auto& t = o.timeouts;
    std::vector<std::size_t> accepted;
    auto rcpt_outcome = [&](std::size_t i, const reply& r) {
        auto& out = j.recipients[i].result;
        if (r.kind() == 2) accepted.push_back(i);
        else if (batch.size() > 1 && too_many_recipients(r)) end.overflow.push_back({i, r});
        else {
            out = refused_by(r);
            out.elsewhere = out.what == outcome::kind::deferred; // another MX may take it
        }
    };
    std::string group = mail_command(j, c.ext, o);
    reply mail;
    if (c.ext.pipelining) {
        for (std::size_t i : batch) group += rcpt_command(j.recipients[i], c.ext, j.needs_smtputf8);
        group += "DATA\r\n";
        const auto until = connection::within(t.mail);
        co_await c.write(group, until, "MAIL");
        mail = co_await c.read(until, "MAIL");
        session_refusal(c, mail, o);
        end.answered = true;
        for (std::size_t i : batch) {
            const reply r = co_await c.read(t.rcpt, "RCPT");
            if (mail.kind() == 2) rcpt_outcome(i, r);
        }
    } else {
        mail = co_await c.command(group, t.mail, "MAIL");
        session_refusal(c, mail, o);
        end.answered = true;
        if (mail.kind() == 2)
            for (std::size_t i : batch)
                rcpt_outcome(i, co_await c.command(rcpt_command(j.recipients[i], c.ext, j.needs_smtputf8), t.rcpt, "RCPT"));
    }
    if (mail.kind() != 2) {
        for (std::size_t i : batch) j.recipients[i].result = refused_by(mail);
        end.overflow.clear();
    }
    co_return accepted;
}

// DATA's reply, then the message and the reply to its end, which is each
// accepted recipient's outcome; RSET when there is nothing to send.
inline asio::awaitable<void> data(connection& c, job& j, const std::vector<std::size_t>& accepted, transaction& end,
                                  const smtp_options& o) {
    const auto& t = o.timeouts;
    reply data;
    if (c.ext.pipelining) data = co_await c.read(t.data_init, "DATA");
    else if (!accepted.empty()) data = co_await c.command("DATA\r\n", t.data_init, "DATA");
    if (data.code == 354 && accepted.empty()) {
        // A server that takes DATA with no recipient accepted: the only way
        // out of its data state is to end it, empty, or to hang up.
        c.close();
        end.reusable = false;
        co_return;
    }
    if (accepted.empty() || data.code != 354) {
        for (std::size_t i : accepted) j.recipients[i].result = refused_by(data);
        const reply rset = co_await c.command("RSET\r\n", t.rset, "RSET");
        end.reusable = rset.kind() == 2;
        co_return;
    }
    // The data's limit is per write, as RFC 5321 §4.5.3.2.5 asks ("data
    // block") and Postfix does: a large message on a slow link is not cut short.
    constexpr std::size_t block = 64 * 1024;
    for (std::size_t at = 0; at < j.data.size(); at += block)
        co_await c.write(std::string_view(j.data).substr(at, block), t.data_xfer, "message data");
    reply done;
    try {
        done = co_await c.read(t.data_done, "end of data");
    } catch (const stream_error& e) {
        // RFC 5321 §4.5.3.2.7: the server may have the message already; it is
        // deferred (and may arrive twice), never bounced.
        for (std::size_t i : accepted)
            j.recipients[i].result = {outcome::kind::deferred, std::string(e.what()) + " after the end of data; the message may have been delivered", e.code};
        throw;
    }
    for (std::size_t i : accepted)
        j.recipients[i].result = done.kind() == 2 ? outcome{outcome::kind::sent, done.line(), done.enhanced, c.ext.dsn} : refused_by(done);
    end.reusable = done.code != 421;
}
} // namespace steps

/// One mail transaction for `batch` (indices into j.recipients).
inline asio::awaitable<transaction> transact(connection& c, job& j, std::span<const std::size_t> batch, const smtp_options& o) {
    transaction end;
    try {
        const std::vector<std::size_t> accepted = co_await steps::envelope(c, j, batch, end, o);
        co_await steps::data(c, j, accepted, end, o);
    } catch (const stream_error& e) {
        end.broken = e;
        end.reusable = false;
    }
    co_return end;
}

} // namespace session
} // namespace spool::detail::smtp
