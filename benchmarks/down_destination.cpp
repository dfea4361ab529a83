// A destination that is down with a backlog behind it, beside a healthy one
// (issue: a down destination stalled every other). `held` messages wait for
// down.example, as the spooler leaves them once it has found the destination
// down (written through the store's hold_back, so that filling a million takes
// seconds, not a spooler's million loads); then 100 messages a second go to
// healthy.example through a running spooler for `seconds`, and each one's time
// from submit to its hand-off is taken. Printed: p50 and p99 in ms, and the
// rows the down destination's messages cost: none, if they are not read.
//   spool_down_destination sqlite <held> [seconds=3]
//   spool_down_destination postgres <conninfo> <held> [seconds=3]
// benchmarks/down_destination.sh runs both at 0 and 1,000,000 held, three
// times each, and prints the medians and their ratio (target: p99 within 2x).

#include "../tests/support/async_transport.hpp"

#include <spool/administration.hpp>
#include <spool/spool.hpp>
#include <spool/postgres.hpp>
#include <spool/sqlite.hpp>

#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

spool::message to(const std::string& address) {
    spool::message m;
    m.recipients = {{address, address, "SMTP"}};
    m.payload.subject = "benchmark";
    m.payload.body.assign(1000, 'b');
    m.flags = spool::message_flags::submitted | spool::message_flags::unsent;
    m.sent_mail = spool::disposition::delete_after_submit{};
    return m;
}

// Before the clock starts, PostgreSQL's queue is left as autovacuum leaves it
// within a minute of the backlog's hold-back (its thresholds are 10,000 rows):
// the hold-back's dead index entries vacuumed, the planner's statistics fresh.
void settle(const std::string& conninfo) {
    PGconn* c = PQconnectdb(conninfo.c_str());
    PQclear(PQexec(c, "VACUUM ANALYZE spool_queue"));
    PQfinish(c);
}

template <class Store>
int run(Store& store, long held, int seconds, const std::string& conninfo = {}) {
    // The backlog, as the spooler leaves it: queued, waiting for its destination's probe an hour on.
    const auto probe = std::chrono::system_clock::now() + std::chrono::hours{1};
    for (long done = 0; done < held;) {
        std::vector<spool::message_id> ids;
        const long chunk = std::min<long>(10000, held - done);
        const auto ec = store.batch([&] {
            for (long i = 0; i < chunk; ++i) ids.push_back(store.create_queued(spool::folders::outbox, to("r@down.example")).value());
        });
        if (ec) return std::fprintf(stderr, "cannot fill the store: %s\n", ec.message().c_str()), 1;
        if constexpr (spool::SharedQueueStore<Store>) {
            // A shared queue's hold-backs are its claims' writes: claim them as a spooler would.
            (void)store.claim_due(std::chrono::system_clock::now(), static_cast<std::size_t>(chunk));
        }
        if (auto e = store.hold_back(ids, "down.example", probe)) return std::fprintf(stderr, "hold_back: %s\n", e.message().c_str()), 1;
        if constexpr (spool::SharedQueueStore<Store>) (void)store.retain_leases({});
        done += chunk;
    }
    if (!conninfo.empty()) settle(conninfo);

    std::mutex mutex;
    std::condition_variable arrived;
    std::map<spool::message_id, clock_type::time_point> submitted, handed;
    spool_test::async_transport transport{std::chrono::microseconds{0}, 2};
    transport.on_transmit([&](spool::transmission<spool::message>& tx) {
        for (const auto& r : tx.recipients()) tx.sent(r);
        std::lock_guard g{mutex};
        handed.emplace(tx.message().id, clock_type::now());
        arrived.notify_all();
        return spool::transmit_result::done();
    });
    spool::spooler sp{std::ref(store), transport};
    sp.start();
    auto client = sp.client();
    const int total = 100 * seconds;
    const auto start = clock_type::now();
    for (int i = 0; i < total; ++i) {
        std::this_thread::sleep_until(start + std::chrono::milliseconds{10} * i); // 100 a second
        const auto at = clock_type::now();
        const auto id = client.send(to("r" + std::to_string(i) + "@healthy.example"));
        if (!id) return std::fprintf(stderr, "submit failed: %s\n", id.error().message().c_str()), 1;
        std::lock_guard g{mutex};
        submitted.emplace(*id, at);
    }
    {
        std::unique_lock l{mutex};
        arrived.wait_for(l, std::chrono::seconds{60}, [&] { return handed.size() >= static_cast<std::size_t>(total); });
    }
    sp.stop();
    std::vector<double> ms;
    for (const auto& [id, at] : submitted)
        if (auto it = handed.find(id); it != handed.end()) ms.push_back(std::chrono::duration<double, std::milli>(it->second - at).count());
    if (ms.size() != static_cast<std::size_t>(total)) return std::fprintf(stderr, "only %zu of %d handed off\n", ms.size(), total), 1;
    std::sort(ms.begin(), ms.end());
    const auto at = [&](double q) { return ms[static_cast<std::size_t>(q * static_cast<double>(ms.size() - 1))]; };
    const auto counts = store.count_queue(std::chrono::system_clock::now());
    std::printf("held %ld p50_ms %.3f p99_ms %.3f waiting %zu\n", held, at(0.5), at(0.99), counts.waiting);
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    const std::string kind = argc > 1 ? argv[1] : "";
    if (kind == "sqlite" && (argc == 3 || argc == 4)) {
        const auto path = std::filesystem::temp_directory_path() / ("spool-down-" + std::to_string(::getpid()) + ".db");
        int rc = 0;
        {
            spool::sqlite_store store(path.string());
            rc = run(store, std::stol(argv[2]), argc == 4 ? std::stoi(argv[3]) : 3);
        }
        for (const char* suffix : {"", "-wal", "-shm", "-spooler"}) std::filesystem::remove(path.string() + suffix);
        return rc;
    }
    if (kind == "postgres" && (argc == 4 || argc == 5)) {
        spool::postgres_options options;
        options.claim_batch = 10000; // the fill claims a chunk at a time, as hold-backs are the claim holder's writes
        spool::postgres_store store(argv[2], options);
        return run(store, std::stol(argv[3]), argc == 5 ? std::stoi(argv[4]) : 3, argv[2]);
    }
    std::fprintf(stderr, "usage: see the comment at the top of benchmarks/down_destination.cpp\n");
    return 2;
}
