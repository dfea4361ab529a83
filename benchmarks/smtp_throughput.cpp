// spool's side of benchmarks/smtp_vs_postfix.sh: a durable spool (the SQLite
// store, synchronous=FULL, group commit) sending N messages of 1 KiB through
// smtp_transport to a relay (smtp-sink), at most `concurrency` connections.
//
//   spool_smtp_throughput <db> <relay-port> <messages> <concurrency> <send|batch>
//
// send:  each message submitted on its own (one durable commit each), as an
//        application hands in events one by one; Postfix's smtpd does the same
//        (one fsync'd queue file a message).
// batch: 100 messages a commit (client.batch), for an application that can.
// The clock is the script's: from this process's start to smtp-sink's exit.

#include <spool/spool.hpp>
#include <spool/sqlite.hpp>
#include <spool/smtp.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

int main(int argc, char** argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: %s <db> <relay-port> <messages> <concurrency> <send|batch>\n", argv[0]);
        return 2;
    }
    const int messages = std::atoi(argv[3]);
    const auto concurrency = static_cast<std::size_t>(std::atoi(argv[4]));
    const bool batch = std::string(argv[5]) == "batch";

    spool::smtp_options options;
    options.relay = spool::smtp_relay{"127.0.0.1", static_cast<std::uint16_t>(std::atoi(argv[2]))};
    options.tls = spool::smtp_tls::none;
    auto store = spool::sqlite_store::open(argv[1]);
    if (!store) return 1;
    spool::spooler sp{std::move(*store), spool::smtp_transport{options}};
    sp.limits<spool::smtp_transport>({.max_in_flight = concurrency, .destination_concurrency = concurrency});
    auto client = sp.client();

    spool::message m;
    m.sender = {"bench", "bench@spool.test", "SMTP"};
    m.payload.subject = "benchmark";
    m.recipients.push_back({"sink", "sink@sink.test", "SMTP"});
    for (int i = 0; i < 16; ++i) m.payload.body += std::string(63, 'a' + i % 26) + '\n'; // 1 KiB

    sp.start();
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < messages;) {
        if (batch) {
            const int n = std::min(100, messages - i);
            if (client.batch([&] {
                    for (int k = 0; k < n; ++k)
                        if (!client.send(m)) std::abort();
                }))
                return 1;
            i += n;
        } else {
            if (!client.send(m)) return 1;
            ++i;
        }
    }
    const auto submitted = std::chrono::steady_clock::now();
    std::printf("{\"submit_seconds\": %.3f}\n", std::chrono::duration<double>(submitted - start).count());
    std::fflush(stdout);
    // smtp-sink -M <messages> exits on the last message, before its reply, so
    // that one stays queued here: the script's clock stops at smtp-sink's exit
    // and it ends this process.
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}
