// Two latencies an operator feels:
// - stop(): with 2000 due messages and a transport that takes 2 ms a hand-off,
//   how long stop() takes once the spooler is busy (it ends the pass after the
//   message in progress; before, it finished the whole pass: about 4 s);
// - a submit from another connection (as from another process) to the SQLite
//   store: how long until the running spooler hands it off, with no wake()
//   (it notices the other writer within its 50 ms look-out, instead of at
//   the 60 s idle wait).
//   build/<preset>/benchmarks/spool_stop_and_wake

#include <spool/spool.hpp>
#include <spool/sqlite.hpp>

#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <unistd.h>

namespace {

struct slow_transport {
    using spool_concept = spool::transport_tag;
    std::atomic<int>* handed_off;
    spool::address_types address_types() const { return spool::address_types::any(); }
    spool::transmit_result transmit(spool::transmission<spool::message>& tx) {
        std::this_thread::sleep_for(std::chrono::milliseconds{2});
        for (const auto& r : tx.recipients()) tx.sent(r);
        handed_off->fetch_add(1);
        return spool::transmit_result::done();
    }
};

spool::message small_message() {
    spool::message m;
    m.recipients = {{"A", "a@example.org", "SMTP"}};
    m.payload.subject = "benchmark";
    return m;
}

void stop_with_2000_due(benchmark::State& state) {
    for (auto _ : state) {
        state.PauseTiming();
        std::atomic<int> handed_off{0};
        spool::memory_store store;
        spool::spooler sp{store, slow_transport{&handed_off}};
        for (int i = 0; i < 2000; ++i) sp.client().send(small_message());
        sp.start();
        while (handed_off.load() < 10) std::this_thread::yield();
        state.ResumeTiming();
        sp.stop();
        state.PauseTiming();
        state.counters["handed_off_of_2000"] = handed_off.load();
        state.ResumeTiming();
    }
}
BENCHMARK(stop_with_2000_due)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(5);

void submit_from_another_connection(benchmark::State& state) {
    const auto path = (std::filesystem::temp_directory_path() / ("spool-bench-wake-" + std::to_string(::getpid()) + ".db")).string();
    for (const char* suffix : {"", "-wal", "-shm", "-spooler"}) std::filesystem::remove(path + suffix);
    std::atomic<int> handed_off{0};
    spool::sqlite_store worked(path);
    spool::spooler running{worked, slow_transport{&handed_off}};
    running.start();
    spool::sqlite_store other(path); // its own connection: what another process has
    spool::spooler client_side{other, slow_transport{&handed_off}};
    auto client = client_side.client();
    for (auto _ : state) {
        std::this_thread::sleep_for(std::chrono::milliseconds{120}); // the spooler is idle again
        const int before = handed_off.load();
        const auto sent = std::chrono::steady_clock::now();
        client.send(small_message());
        while (handed_off.load() == before) std::this_thread::sleep_for(std::chrono::microseconds{200});
        state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count());
    }
    running.stop();
}
BENCHMARK(submit_from_another_connection)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(20);

} // namespace

BENCHMARK_MAIN();
