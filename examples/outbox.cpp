// The main example: a user's own store, transports and preprocessor composed
// into a spooler. The pager network goes down for a while; its message waits
// in the store and is forwarded by itself when the network is back, while mail
// for the other transport goes out at once.
//
// Time is simulated with a manual clock so that the output is the same on
// every run (the example is also a test that checks its own output).

#include <spool/spool.hpp>
#include <spool/sqlite.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

using namespace std::chrono_literals;

namespace {

spool::manual_clock clock_;
const spool::time_point start = clock_.now();

std::string at() {
    return "[t=" + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(clock_.now() - start).count()) + "s] ";
}

// --- A store of our own -----------------------------------------------------
// It keeps messages in spool's SQLite store, the embedded default, and writes
// a journal line for each durable step: each is one transaction on disk.
class journaling_store {
public:
    using spool_concept = spool::store_tag;
    using message_type = spool::message;

    explicit journaling_store(spool::sqlite_store inner) : inner_(std::move(inner)) {}

    spool::result<spool::message_id> create(spool::folder_id f, const spool::message& m) { return inner_.create(f, m); }
    spool::result<spool::message> load(spool::message_id id) const { return inner_.load(id); }
    std::error_code save(spool::message_id id, const spool::message& m) { return step("save", id, inner_.save(id, m)); }
    std::error_code enqueue(spool::message_id id, const spool::message& m) {
        return step("enqueue", id, inner_.enqueue(id, m));
    }
    std::error_code abort_submit(spool::message_id id, const spool::message& m) {
        return step("abort", id, inner_.abort_submit(id, m));
    }
    std::error_code finish(spool::message_id id, const spool::message& m) {
        return step("finish", id, inner_.finish(id, m));
    }
    std::vector<spool::queue_entry> outgoing_queue() const { return inner_.outgoing_queue(); }
    std::vector<spool::message_id> contents(spool::folder_id f) const { return inner_.contents(f); }

private:
    static std::error_code step(const char* what, spool::message_id id, std::error_code ec) {
        std::cout << at() << "journal: " << what << " #" << static_cast<unsigned>(id)
                  << (ec ? " failed: " + ec.message() : std::string{}) << '\n';
        return ec;
    }
    spool::sqlite_store inner_;
};

// --- Transports of our own --------------------------------------------------
struct mail_relay {
    using spool_concept = spool::transport_tag;
    spool::address_types address_types() const { return {"SMTP"}; }
    spool::transmit_result transmit(spool::transmission<spool::message>& tx) {
        for (const auto& r : tx.recipients()) {
            std::cout << at() << "mail: \"" << tx.message().payload.subject << "\" to " << r.address << '\n';
            tx.sent(r);
        }
        return spool::transmit_result::done();
    }
};

// The pager network is down until `back_at`.
struct pager_network {
    using spool_concept = spool::transport_tag;
    spool::time_point back_at;

    spool::address_types address_types() const { return {"PAGER"}; }
    spool::transmit_result transmit(spool::transmission<spool::message>& tx) {
        if (tx.now() < back_at) {
            std::cout << at() << "pager: network down, asks to retry in 30 s\n";
            return spool::transmit_result::retry_after(30s, "pager network down");
        }
        std::string text = tx.message().payload.subject;
        for (const auto& [name, value] : tx.message().payload.headers)
            if (name == "X-Pager-Text") text = value;
        for (const auto& r : tx.recipients()) {
            std::cout << at() << "pager: \"" << text << "\" to " << r.address << '\n';
            tx.sent(r);
        }
        return spool::transmit_result::done();
    }
};

// --- A preprocessor of our own ------------------------------------------------
// Pagers show 32 characters: prepare a short text before any transport sees
// the message. It runs only for messages with a pager recipient.
struct pager_formatter {
    using spool_concept = spool::preprocessor_tag;
    spool::address_types address_types() const { return {"PAGER"}; }
    spool::preprocess_result preprocess(spool::preprocessing<spool::message>& job) {
        auto& payload = job.message().payload;
        std::string text = payload.subject.size() > 32 ? payload.subject.substr(0, 29) + "..." : payload.subject;
        std::cout << at() << "formatter: pager text \"" << text << "\"\n";
        payload.headers.emplace_back("X-Pager-Text", std::move(text));
        return spool::preprocess_result::ok();
    }
};

const char* describe(const spool::recipient_status& s) {
    if (std::holds_alternative<spool::status::sent>(s)) return "sent";
    if (std::holds_alternative<spool::status::deferred>(s)) return "deferred";
    if (std::holds_alternative<spool::status::failed>(s)) return "failed";
    return "pending";
}

} // namespace

int main(int argc, char** argv) {
    // The database lives where you can look at it, e.g. with `sqlite3 spool-example.db .tables`.
    const std::string path = argc > 1 ? argv[1] : "spool-example.db";
    for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path + suffix).c_str()); // start afresh each run
    auto database = spool::sqlite_store::open(path);
    if (!database) {
        std::cerr << "cannot open " << path << ": " << database.error().message() << '\n';
        return EXIT_FAILURE;
    }
    std::cout << "database: " << path << '\n';
    journaling_store store{*database};
    spool::spooler spooler{std::ref(store), mail_relay{}, pager_network{start + 45s}, pager_formatter{}, clock_};
    auto client = spooler.client();

    spool::message alert;
    alert.payload.subject = "Disk usage on db-01 has passed 90 percent";
    alert.recipients = {{"Ops list", "ops@example.org", "SMTP"}, {"On-call", "5550100", "PAGER"}};
    const auto id = client.send(alert);
    if (!id) {
        std::cerr << "submit failed: " << id.error().message() << '\n';
        return EXIT_FAILURE;
    }
    std::cout << at() << "client: submitted #" << static_cast<unsigned>(*id) << '\n';

    // The spooler works through the queue whenever it is due. A service would
    // call spooler.start() once; here each pass is run by hand as time passes.
    for (int step = 0; step < 4; ++step) {
        const auto report = spooler.drain();
        if (report.next_due)
            std::cout << at() << "spooler: " << report.waiting << " waiting, next attempt at t="
                      << std::chrono::duration_cast<std::chrono::seconds>(*report.next_due - start).count() << "s\n";
        clock_.advance(30s);
    }

    const auto sent = client.open(*id).value();
    bool all_sent = true;
    for (const auto& r : sent.recipients) {
        std::cout << "result: " << r.address << " " << describe(r.status) << '\n';
        all_sent = all_sent && std::holds_alternative<spool::status::sent>(r.status);
    }
    const bool in_sent_items = client.contents(spool::folders::sent_items).size() == 1;
    std::cout << "sent items: " << client.contents(spool::folders::sent_items).size() << " message\n";
    return all_sent && in_sent_items ? EXIT_SUCCESS : EXIT_FAILURE;
}
