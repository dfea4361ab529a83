// Concurrent delivery against latency, not CPU.
// - latency_bound/<store>/<max_in_flight>[/<messages>]: an asynchronous
//   transport whose every hand-off waits 5 ms on a timer, recipients spread
//   over 64 destinations so that the destination limit (20) does not bind.
//   The counter ratio_to_ideal is the throughput over Little's law's ideal,
//   max_in_flight / 5 ms. Target: >= 0.8 at 64, with both stores, also with
//   20,000 and 200,000 messages queued at once.
// - fast_alone and fast_beside_slow: a fast transport's throughput (1 ms a
//   hand-off, 16 at once), alone and beside a transport whose hand-offs take
//   200 ms. Target: beside / alone >= 0.9.
// - backlog/<n>: n messages waiting in the SQLite store for a transport that
//   is down (deferred an hour, as the spooler leaves them), then one message
//   to another transport: the time from its submit to its delivery. Target:
//   at 1,000,000 no more than twice the time at 0.
//   build/<preset>/benchmarks/spool_concurrent_delivery

#include "../tests/support/async_transport.hpp"

#include <spool/spool.hpp>
#include <spool/sqlite.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;
using spool_test::async_transport;

constexpr auto latency = 5ms;

spool::message to(std::size_t n, const char* type = "SMTP") {
    spool::message m;
    const std::string address = "user" + std::to_string(n) + "@d" + std::to_string(n % 64) + ".example";
    m.recipients = {{address, address, type}};
    m.payload.subject = "benchmark";
    m.sent_mail = spool::disposition::delete_after_submit{};
    return m;
}

template <class Store>
void run_latency_bound(benchmark::State& state, Store&& store) {
    const auto limit = static_cast<std::size_t>(state.range(0));
    // About half a second of work at the ideal rate, unless the messages are named.
    const std::size_t n = state.range(1) > 0 ? static_cast<std::size_t>(state.range(1)) : std::max<std::size_t>(50, limit * 100);
    async_transport transport{latency, 1};
    spool::spooler sp{std::forward<Store>(store), transport};
    sp.template limits<async_transport>({.max_in_flight = limit});
    auto client = sp.client();
    for (auto _ : state) {
        state.PauseTiming();
        for (std::size_t i = 0; i < n; ++i) client.send(to(i));
        state.ResumeTiming();
        sp.drain();
    }
    const double per_second = static_cast<double>(n) * static_cast<double>(state.iterations());
    state.counters["msgs_per_s"] = benchmark::Counter(per_second, benchmark::Counter::kIsRate);
    state.counters["ideal_per_s"] = static_cast<double>(limit) / std::chrono::duration<double>(latency).count();
    state.counters["messages"] = static_cast<double>(n);
}

void latency_bound_memory(benchmark::State& state) { run_latency_bound(state, spool::memory_store{}); }
BENCHMARK(latency_bound_memory)
    ->Args({1, 0})->Args({8, 0})->Args({64, 0})->Args({64, 20000})->Iterations(3)->UseRealTime()->Unit(benchmark::kMillisecond);

void latency_bound_sqlite(benchmark::State& state) {
    const auto path = std::filesystem::temp_directory_path() / ("spool-bench-" + std::to_string(::getpid()) + ".db");
    {
        auto store = spool::sqlite_store::open(path.string());
        if (!store) {
            state.SkipWithError("cannot open the SQLite store");
            return;
        }
        run_latency_bound(state, std::move(*store));
    }
    for (const char* suffix : {"", "-wal", "-shm", "-spooler"}) std::filesystem::remove(path.string() + suffix);
}
BENCHMARK(latency_bound_sqlite)
    ->Args({1, 0})->Args({8, 0})->Args({64, 0})->Args({64, 20000})->Args({64, 200000})->Iterations(3)->UseRealTime()->Unit(benchmark::kMillisecond);

// The fast transport's messages, with or without the slow one's beside them;
// the clock stops when the fast transport has all of its own.
void fast_throughput(benchmark::State& state, bool beside_slow) {
    constexpr std::size_t n = 4000;
    for (auto _ : state) {
        state.PauseTiming();
        spool::memory_store store;
        async_transport fast{1ms, 1, spool::address_types{"SMTP"}};
        async_transport slow{200ms, 1, spool::address_types{"SLOW"}};
        spool::spooler sp{store, fast, slow};
        sp.limits<async_transport>({.max_in_flight = 16});
        auto client = sp.client();
        for (std::size_t i = 0; i < n; ++i) {
            client.send(to(i));
            if (beside_slow && i % 4 == 0) client.send(to(i, "SLOW"));
        }
        state.ResumeTiming();
        sp.start();
        while (fast.deliveries().size() < n) std::this_thread::sleep_for(1ms);
        state.PauseTiming();
        sp.stop_deadline(0ms);
        sp.stop();
        state.ResumeTiming();
    }
    state.counters["msgs_per_s"] =
        benchmark::Counter(static_cast<double>(n) * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
void fast_alone(benchmark::State& state) { fast_throughput(state, false); }
void fast_beside_slow(benchmark::State& state) { fast_throughput(state, true); }
BENCHMARK(fast_alone)->Iterations(3)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(fast_beside_slow)->Iterations(3)->UseRealTime()->Unit(benchmark::kMillisecond);

void backlog(benchmark::State& state) {
    const auto waiting = static_cast<std::size_t>(state.range(0));
    const auto path = std::filesystem::temp_directory_path() / ("spool-backlog-" + std::to_string(::getpid()) + ".db");
    {
        spool::sqlite_store store(path.string());
        spool::manual_clock clock;
        spool::message m = to(0);
        m.flags = spool::message_flags::submitted | spool::message_flags::unsent;
        m.client_submit_time = clock.now();
        m.recipients[0].status = spool::status::deferred{clock.now() + 1h, "messaging system offline", 1, {}};
        for (std::size_t done = 0; done < waiting;) {
            const std::size_t chunk = std::min<std::size_t>(10000, waiting - done);
            const auto ec = store.batch([&] {
                for (std::size_t i = 0; i < chunk; ++i) (void)store.create_queued(spool::folders::outbox, m);
            });
            if (ec) return state.SkipWithError("cannot fill the store");
            done += chunk;
        }
        spool::memory_transport down{spool::address_types{"SMTP"}};
        spool::memory_transport fax{spool::address_types{"FAX"}};
        down.offline(1h);
        spool::spooler sp{store, down, fax, clock};
        auto client = sp.client();
        for (auto _ : state) {
            client.send(to(1, "FAX"));
            sp.drain();
        }
        if (fax.deliveries().size() != static_cast<std::size_t>(state.iterations())) state.SkipWithError("not every message was delivered");
        state.counters["waiting"] = static_cast<double>(waiting);
    }
    for (const char* suffix : {"", "-wal", "-shm", "-spooler"}) std::filesystem::remove(path.string() + suffix);
}
BENCHMARK(backlog)->Arg(0)->Arg(1000000)->Iterations(200)->UseRealTime()->Unit(benchmark::kMicrosecond);

} // namespace

BENCHMARK_MAIN();
