#pragma once

// spool::smtp_transport: an asynchronous SMTP client on Boost.Asio and
// OpenSSL, for the address type "SMTP". Link spool::smtp.
//
//   spool::smtp_transport smtp{{.relay = spool::smtp_relay{"mail.example.com", 587},
//                               .credentials = spool::smtp_credentials{"user", "secret"}}};
//
// Each hand-off is one destination (the relay, or a recipient domain): the
// spooler's per-destination limits are limits on connections to it. Every
// recipient gets its own outcome from its own RCPT reply: 2xx sent, 4xx (and
// timeouts and I/O errors) deferred, 5xx failed, with the server's reply as
// the reason and its enhanced status code as the diagnostic. A failure to get
// a session going at all (connect, greeting, TLS, AUTH) is a site failure,
// which counts toward marking the destination down.

#include <spool/address_types.hpp>
#include <spool/error.hpp>
#include <spool/smtp/detail/engine.hpp>
#include <spool/smtp/detail/wire.hpp>
#include <spool/message.hpp>
#include <spool/tags.hpp>
#include <spool/transmission.hpp>
#include <spool/transmit_handler.hpp>
#include <spool/smtp/envelope_id.hpp>
#include <spool/smtp/message.hpp>
#include <spool/smtp/options.hpp>
#include <spool/smtp/route.hpp>

#include <boost/asio/io_context.hpp>

#include <concepts>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace spool {

/// A callable that renders a message as RFC 5322 text (CR LF or LF line
/// ends; the transport makes every line end CR LF and dot-stuffs it).
template <class R, class Message>
concept SmtpRenderer = std::copy_constructible<R> && requires(const R& r, const Message& m) {
    { r(m) } -> std::convertible_to<std::string>;
};

template <SmtpResolver Resolver = static_resolver, class Renderer = rfc5322_renderer>
class basic_smtp_transport {
public:
    using spool_concept = transport_tag;

    /// Runs on an io_context and thread of its own.
    explicit basic_smtp_transport(smtp_options options, Resolver resolver = {}, Renderer renderer = {})
        : basic_smtp_transport(nullptr, std::move(options), std::move(resolver), std::move(renderer)) {}
    /// Runs on `io`, which the caller runs on one thread and which must outlive every copy of the transport.
    basic_smtp_transport(boost::asio::io_context& io, smtp_options options, Resolver resolver = {}, Renderer renderer = {})
        : basic_smtp_transport(&io, std::move(options), std::move(resolver), std::move(renderer)) {}

    spool::address_types address_types() const { return {"SMTP"}; }

    /// The next hop, as Postfix keys its queues: "[host]:port" of the relay
    /// when there is one, else the recipient's domain in lower case.
    std::string destination(const recipient& r) const {
        const auto& o = runner_->get().options();
        if (o.relay) return "[" + o.relay->host + "]:" + std::to_string(o.relay->port);
        return detail::smtp::domain_of(r.address);
    }

    /// RecipientCheckingTransport: at submit, an address that cannot stand
    /// between < and > in RCPT (a control character, a space, an angle
    /// bracket, no @ with text on each side, over 256 octets) refuses the
    /// message with errc::invalid_address. One that reaches the transport all
    /// the same (queued before this check) still fails with 5.1.3.
    std::error_code check_recipient(const recipient& r) const {
        return detail::smtp::is_path_address(r.address) ? std::error_code{} : make_error_code(errc::invalid_address);
    }

    template <class Message>
        requires SmtpRenderer<Renderer, Message>
    void async_transmit(transmission<Message>& tx, transmit_handler done) {
        auto j = std::make_unique<detail::smtp::job>();
        const Message& m = tx.message();
        std::vector<const recipient*> who;
        for (const recipient& r : tx.recipients()) {
            if (!detail::smtp::is_path_address(r.address)) {
                tx.failed(r, "bad recipient address syntax: " + detail::header_value(r.address), "5.1.3");
                continue;
            }
            j->recipients.push_back({r.address, notify_for(r.reports.value_or(m.reports)), {}});
            j->needs_smtputf8 = j->needs_smtputf8 || detail::smtp::has_8bit(r.address);
            who.push_back(&r);
        }
        if (who.empty()) return done(transmit_result::done());
        if (!m.sender.address.empty() && !detail::smtp::is_path_address(m.sender.address))
            return done(transmit_result::message_failed("bad sender address syntax: " + detail::header_value(m.sender.address), "5.1.7"));
        j->destination = destination(*who.front());
        j->domain = detail::smtp::domain_of(who.front()->address);
        j->sender = m.sender.address;
        j->needs_smtputf8 = j->needs_smtputf8 || detail::smtp::has_8bit(m.sender.address);
        const std::string text = renderer_(m);
        j->size = text.size();
        j->eight_bit = detail::smtp::has_8bit(text);
        detail::smtp::append_data(j->data, text);
        j->envelope_id = smtp_envelope_id(m.id, envelope_id_secret_);
        runner_->get().start(std::move(j), [&tx, who = std::move(who), done = std::move(done)](detail::smtp::job& j) mutable {
            using kind = detail::smtp::outcome::kind;
            for (std::size_t i = 0; i < who.size(); ++i) {
                auto& o = j.recipients[i].result;
                switch (o.what) {
                case kind::sent: tx.relayed(*who[i], o.next_hop_reports); break;
                case kind::deferred: tx.deferred(*who[i], std::move(o.reason), std::move(o.diagnostic)); break;
                case kind::failed: tx.failed(*who[i], std::move(o.reason), std::move(o.diagnostic)); break;
                case kind::none: break;
                }
            }
            using end = detail::smtp::job::end;
            switch (j.result) {
            case end::done: return done(transmit_result::done());
            case end::site_failure: return done(transmit_result::site_failure(std::move(j.reason), std::move(j.diagnostic)));
            case end::message_failed: return done(transmit_result::message_failed(std::move(j.reason), std::move(j.diagnostic)));
            case end::cancelled: return done(transmit_result::busy("SMTP session cancelled by stop()"));
            }
        });
    }

    /// Cuts every session in flight short (spooler.stop() after its deadline)
    /// and closes the idle ones.
    void cancel_transmissions() { runner_->get().cancel_all(); }

private:
    basic_smtp_transport(boost::asio::io_context* io, smtp_options options, Resolver resolver, Renderer renderer)
        : renderer_(std::move(renderer)), envelope_id_secret_(options.envelope_id_secret),
          runner_(std::make_shared<detail::smtp::runner>(std::move(options), lookups(std::move(resolver)), io)) {}

    // A resolver whose resolve() is const is called from every lookup thread
    // at once; any other one, a call at a time.
    static detail::smtp::engine::resolve_function lookups(Resolver r) {
        if constexpr (requires(const Resolver& c, std::string_view d) { c.resolve(d); })
            return [r = std::move(r)](std::string_view domain) { return smtp_route(r.resolve(domain)); };
        else
            return [r = std::make_shared<Resolver>(std::move(r)), one = std::make_shared<std::mutex>()](std::string_view domain) {
                std::lock_guard lock{*one};
                return smtp_route(r->resolve(domain));
            };
    }

    // RFC 3461 NOTIFY from what the sender asked for. A delay report is
    // wanted unless suppressed, itself or with the non-delivery report.
    static std::string notify_for(const report_requests& q) {
        std::string notify = q.delivery ? "SUCCESS" : "";
        if (!q.non_delivery_suppressed) notify += notify.empty() ? "FAILURE" : ",FAILURE";
        if (!q.non_delivery_suppressed && !q.delay_suppressed) notify += ",DELAY";
        return notify.empty() ? "NEVER" : notify;
    }

    Renderer renderer_;
    std::string envelope_id_secret_; // kept here: the engine has no use for it
    std::shared_ptr<detail::smtp::runner> runner_;
};

/// The SMTP transport with a static next-hop map (a relay host, in most set-ups)
/// and the default renderer for spool::message.
using smtp_transport = basic_smtp_transport<>;

} // namespace spool
