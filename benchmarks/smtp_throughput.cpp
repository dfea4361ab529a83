// spool's side of benchmarks/smtp_vs_postfix.sh: a durable spool (the SQLite
// store, synchronous=FULL, group commit) sending N messages of 1 KiB through
// smtp_transport to a relay (smtp-sink), at most `concurrency` connections;
// and the two limits it is measured against in the same run.
//
//   spool_smtp_throughput <db> <relay-port> <messages> <concurrency> <send|batch|wire|disk>
//
// send:  each message submitted on its own (one durable commit each), as an
//        application hands in events one by one; Postfix's smtpd does the same
//        (one fsync'd queue file a message).
// batch: 100 messages a commit (client.batch), for an application that can.
// wire:  the wire's limit: as batch, with the in-memory store, so nothing is
//        durable and only the delivery is left. Bounds batch.
// disk:  the disk's limit: no delivery, only a write of each message's
//        encoded bytes and an fdatasync, in a file beside <db>. Bounds send.
//        Prints {"seconds": ...}; the relay port is not used.
// The clock of the others is the script's: from this process's start to
// smtp-sink's exit.

#include <spool/spool.hpp>
#include <spool/sqlite.hpp>
#include <spool/smtp.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace {

spool::message benchmark_message() {
    spool::message m;
    m.sender = {"bench", "bench@spool.test", "SMTP"};
    m.payload.subject = "benchmark";
    m.recipients.push_back({"sink", "sink@sink.test", "SMTP"});
    for (int i = 0; i < 16; ++i) m.payload.body += std::string(63, 'a' + i % 26) + '\n'; // 1 KiB
    return m;
}

// Each message's bytes written at the end of one file and made durable, one
// at a time: what a commit per message costs at the least on this disk.
int disk_limit(const std::string& beside, int messages) {
    const std::string path = beside + ".disk-limit";
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return 1;
    const std::string bytes = spool::encode(benchmark_message());
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < messages; ++i)
        if (::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size()) || ::fdatasync(fd) != 0) return 1;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ::close(fd);
    ::unlink(path.c_str());
    std::printf("{\"seconds\": %.3f}\n", seconds);
    return 0;
}

template <class Store>
int deliver(Store store, std::uint16_t relay_port, int messages, std::size_t concurrency, bool batch) {
    spool::smtp_options options;
    options.relay = spool::smtp_relay{"127.0.0.1", relay_port};
    options.tls = spool::smtp_tls::none;
    spool::spooler sp{std::move(store), spool::smtp_transport{options}};
    sp.template limits<spool::smtp_transport>({.max_in_flight = concurrency, .destination_concurrency = concurrency});
    auto client = sp.client();
    const spool::message m = benchmark_message();

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

} // namespace

int main(int argc, char** argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: %s <db> <relay-port> <messages> <concurrency> <send|batch|wire|disk>\n", argv[0]);
        return 2;
    }
    const std::string mode = argv[5];
    const int messages = std::atoi(argv[3]);
    const auto port = static_cast<std::uint16_t>(std::atoi(argv[2]));
    const auto concurrency = static_cast<std::size_t>(std::atoi(argv[4]));
    if (mode == "disk") return disk_limit(argv[1], messages);
    if (mode == "wire") return deliver(spool::memory_store{}, port, messages, concurrency, true);
    auto store = spool::sqlite_store::open(argv[1]);
    if (!store) return 1;
    return deliver(std::move(*store), port, messages, concurrency, mode == "batch");
}
