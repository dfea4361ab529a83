// Durable throughput of the SQLite store, end to end (submit, transmit to a
// transport that does nothing, finish), beside a raw SQLite insert loop with
// the same settings (WAL, synchronous=FULL) and row size, in the same run;
// and submissions from 1, 2 and 4 threads at once.
//   build/<preset>/benchmarks/spool_durable_throughput
// Report items_per_second; the ratios are what the figures mean.

#include "durable_workload.hpp"

#include <spool/spool.hpp>
#include <spool/sqlite.hpp>

#include <benchmark/benchmark.h>
#include <sqlite3.h>

#include <sys/resource.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>
#include <unistd.h>

namespace {

using spool_bench::discard_transport;
using spool_bench::one_kib_message;
using spool_bench::row_bytes;

std::string fresh_db(const char* name) {
    const auto path = std::filesystem::temp_directory_path() / (std::string("spool-bench-") + std::to_string(::getpid()) + "-" + name);
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
    return path.string();
}

// The baseline: rows of the same size straight into SQLite, `batch` per transaction.
void raw_sqlite_insert(benchmark::State& state) {
    const auto path = fresh_db("raw.db");
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)",
                 nullptr, nullptr, nullptr);
    sqlite3_stmt* insert = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO t (body) VALUES (?)", -1, &insert, nullptr);
    const std::string body(row_bytes, 'x');
    const auto batch = state.range(0);
    for (auto _ : state) {
        sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
        for (std::int64_t i = 0; i < batch; ++i) {
            sqlite3_bind_blob(insert, 1, body.data(), static_cast<int>(body.size()), SQLITE_STATIC);
            sqlite3_step(insert);
            sqlite3_reset(insert);
        }
        sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    }
    state.SetItemsProcessed(state.iterations() * batch);
    sqlite3_finalize(insert);
    sqlite3_close(db);
}
BENCHMARK(raw_sqlite_insert)->Arg(1)->Arg(64)->UseRealTime();

// spool end to end: `batch` messages submitted in one client.batch (1: a commit
// per step), then the spooler sends and finishes them, writing the outcomes of
// up to `group` messages in one commit (1: each outcome is on disk before the
// next hand-off, for transports that are not idempotent).
void spool_sqlite_end_to_end(benchmark::State& state) {
    const auto path = fresh_db("spool.db");
    spool::sqlite_store store(path);
    spool::spooler sp{store, discard_transport{}};
    sp.group_commits(static_cast<std::size_t>(state.range(1)));
    auto client = sp.client();
    const auto m = one_kib_message();
    const auto batch = state.range(0);
    for (auto _ : state) {
        if (batch == 1) {
            client.send(m);
        } else {
            client.batch([&] {
                for (std::int64_t i = 0; i < batch; ++i) client.send(m);
            });
        }
        sp.drain();
    }
    state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(spool_sqlite_end_to_end)->ArgNames({"batch", "group"})->Args({1, 64})->Args({64, 64})->Args({64, 1})->UseRealTime();

// Submitting threads sharing one store: each send is one durable step
// (create_queued); the group commit lets the threads share fsyncs. One
// iteration is `threads` threads each sending 32 messages, so the rate is the total.
void concurrent_submitters(benchmark::State& state) {
    spool::sqlite_store store(fresh_db("concurrent.db"));
    spool::spooler sp{std::ref(store), discard_transport{}};
    const auto m = one_kib_message();
    const auto threads = static_cast<int>(state.range(0));
    constexpr int each = 32;
    for (auto _ : state) {
        std::vector<std::thread> workers;
        for (int t = 0; t < threads; ++t)
            workers.emplace_back([&] {
                auto client = sp.client();
                for (int i = 0; i < each; ++i) client.send(m);
            });
        for (auto& w : workers) w.join();
    }
    state.SetItemsProcessed(state.iterations() * threads * each);
    const auto [commits, operations] = store.commit_counts();
    state.counters["operations_per_commit"] = static_cast<double>(operations) / static_cast<double>(commits);
}
BENCHMARK(concurrent_submitters)->Arg(1)->Arg(2)->Arg(4)->UseRealTime();

// Peak resident memory of a process holding a million queued messages in the
// SQLite store: the store keeps them on disk, not in memory. Run it alone
// (--benchmark_filter=sqlite_peak_rss): peak RSS is the whole process's.
void sqlite_peak_rss(benchmark::State& state) {
    const auto n = state.range(0);
    for (auto _ : state) {
        spool::sqlite_store store(fresh_db("million.db"));
        spool::spooler sp{std::ref(store), discard_transport{}};
        sp.disable_inbound();
        auto client = sp.client();
        auto m = one_kib_message();
        for (std::int64_t done = 0; done < n; done += 10000)
            client.batch([&] {
                for (std::int64_t i = done; i < std::min(n, done + 10000); ++i) client.send(m);
            });
        benchmark::DoNotOptimize(store.outgoing_queue().size());
    }
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    state.counters["peak_rss_mib"] = static_cast<double>(usage.ru_maxrss) / 1024.0;
    state.counters["queued"] = static_cast<double>(n);
}
BENCHMARK(sqlite_peak_rss)->Arg(1000000)->Iterations(1)->Unit(benchmark::kSecond);

} // namespace

BENCHMARK_MAIN();
