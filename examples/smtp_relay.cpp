// A durable outbox that sends through an SMTP relay (smarthost): the SQLite
// store keeps every message until the relay has it, and the SMTP transport
// hands each recipient over with its own result.
//
//   spool_example_smtp_relay <spool.db> <relay-host> <port> <from> <to>...
//
// Environment: SMTP_TLS = none | opportunistic (default) | required | verify;
// SMTP_USER and SMTP_PASSWORD for AUTH (sent over TLS only); DKIM_KEY (a PEM
// private key) and DKIM_SELECTOR to DKIM-sign for the sender's domain;
// ENVELOPE_ID_SECRET, the spool's secret for the envelope ids that let a
// report mailed back be matched (docs/returned-reports.md).

#include <spool/dkim.hpp>
#include <spool/spool.hpp>
#include <spool/sqlite.hpp>
#include <spool/smtp.hpp>

#include <cstdlib>
#include <iostream>
#include <string>
#include <variant>

int main(int argc, char** argv) {
    if (argc < 6) {
        std::cerr << "usage: " << argv[0] << " <spool.db> <relay-host> <port> <from> <to>...\n";
        return 2;
    }
    spool::smtp_options options;
    options.relay = spool::smtp_relay{argv[2], static_cast<std::uint16_t>(std::atoi(argv[3]))};
    const std::string tls = std::getenv("SMTP_TLS") ? std::getenv("SMTP_TLS") : "opportunistic";
    options.tls = tls == "none" ? spool::smtp_tls::none : tls == "required" ? spool::smtp_tls::required
                : tls == "verify" ? spool::smtp_tls::verify : spool::smtp_tls::opportunistic;
    if (const char* user = std::getenv("SMTP_USER"))
        options.credentials = spool::smtp_credentials{user, std::getenv("SMTP_PASSWORD") ? std::getenv("SMTP_PASSWORD") : ""};
    if (const char* secret = std::getenv("ENVELOPE_ID_SECRET")) options.envelope_id_secret = secret;

    auto store = spool::sqlite_store::open(argv[1]);
    if (!store) {
        std::cerr << "cannot open " << argv[1] << ": " << store.error().message() << '\n';
        return 1;
    }
    // message_id_stamp gives each message its Message-ID once, at submit: every
    // attempt sends the same one, so a receiver can drop a duplicate. The
    // signer signs it, last, with the renderer the transport sends with.
    const spool::rfc5322_renderer renderer{{"spool.example"}};
    const auto send = [&](auto& spooler) {
        auto client = spooler.client();
        spool::message m;
        m.sender = {"spool example", argv[4], "SMTP"};
        m.payload.subject = "Hello from spool";
        m.payload.body = "This message went through spool's SMTP transport.\n";
        for (int i = 5; i < argc; ++i) m.recipients.push_back({argv[i], argv[i], "SMTP"});
        const auto id = client.send(m);
        if (!id) {
            std::cerr << "submit failed: " << id.error().message() << '\n';
            return 1;
        }
        spooler.drain(); // a service calls spooler.start() once instead

        const auto sent = client.open(*id);
        if (!sent) return 1;
        for (const auto& [name, value] : sent->payload.headers)
            if (name == "DKIM-Signature") std::cout << "DKIM-Signature: " << value.substr(0, value.find("; t=")) << '\n';
        int waiting = 0;
        for (const auto& r : sent->recipients) {
            std::cout << r.address << ": ";
            if (r.is_sent()) std::cout << "sent\n";
            else if (const auto* f = std::get_if<spool::status::failed>(&r.status)) std::cout << "failed: " << f->reason << '\n';
            else if (const auto* d = std::get_if<spool::status::deferred>(&r.status)) ++waiting, std::cout << "waiting: " << d->reason << '\n';
            else ++waiting, std::cout << "waiting\n";
        }
        if (waiting) std::cout << waiting << " recipient(s) stay queued in " << argv[1] << "; run again to retry\n";
        return 0;
    };
    spool::smtp_transport smtp{options, {}, renderer};
    if (const char* key = std::getenv("DKIM_KEY")) {
        const std::string from = argv[4];
        spool::dkim_options dkim;
        dkim.keys.push_back({from.substr(from.rfind('@') + 1), std::getenv("DKIM_SELECTOR") ? std::getenv("DKIM_SELECTOR") : "spool", key});
        spool::spooler spooler{std::move(*store), spool::message_id_stamp{"spool.example"}, std::move(smtp),
                               spool::dkim_signer{dkim, renderer}}; // throws spool::dkim_key_error for a bad key
        return send(spooler);
    }
    spool::spooler spooler{std::move(*store), spool::message_id_stamp{"spool.example"}, std::move(smtp)};
    return send(spooler);
}
