// Queue administration on the SQLite store, over a queue of 100,000 messages:
// a full listing a page at a time (list_queue, which decodes every message)
// beside the baseline of reading and decoding every queued body with plain
// SQLite in the same run; counting the queue by state; and holds applied 256
// to a transaction, as spoolctl's ALL does.
//   build/<preset>/benchmarks/spool_administration
// Report items_per_second (messages); the ratios are what the figures mean.

#include <spool/administration.hpp>
#include <spool/spool.hpp>
#include <spool/sqlite.hpp>

#include <benchmark/benchmark.h>
#include <sqlite3.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>

namespace {

constexpr int queued = 100000;

// One spool of `queued` messages for every benchmark of the run, made once.
const std::string& spool_file() {
    static const std::string path = [] {
        const auto p = (std::filesystem::temp_directory_path() / ("spool-bench-admin-" + std::to_string(::getpid()) + ".db")).string();
        for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(p + suffix);
        spool::sqlite_store store(p);
        spool::message m;
        m.recipients = {{"Bob", "bob@example.net", "SMTP"}, {"Carol", "carol@example.org", "SMTP"}};
        m.sender = {"Ann", "ann@example.org", "SMTP"};
        m.payload.subject = "quarterly figures";
        m.payload.body = std::string(512, 'x');
        m.flags = spool::message_flags::submitted | spool::message_flags::unsent;
        for (int done = 0; done < queued; done += 1000)
            (void)store.batch([&] {
                for (int i = 0; i < 1000; ++i) (void)store.create_queued(spool::folders::outbox, m);
            });
        return p;
    }();
    return path;
}

// The baseline: every queued body read with one SELECT and decoded.
void raw_scan_and_decode(benchmark::State& state) {
    sqlite3* db = nullptr;
    sqlite3_open(spool_file().c_str(), &db);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT m.body FROM outgoing_queue q JOIN messages m ON m.id = q.message_id ORDER BY q.message_id", -1, &st,
                       nullptr);
    std::size_t n = 0;
    for (auto _ : state) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            const auto* p = static_cast<const char*>(sqlite3_column_blob(st, 0));
            auto m = spool::decode<spool::mail_payload>(std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(st, 0))));
            benchmark::DoNotOptimize(m);
            ++n;
        }
        sqlite3_reset(st);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(n));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

void list_queue_all(benchmark::State& state) {
    spool::sqlite_store store(spool_file());
    const auto now = std::chrono::system_clock::now();
    std::size_t n = 0;
    for (auto _ : state) {
        for (spool::message_id after{};;) {
            const auto page = store.list_queue({}, now, after, 256);
            n += page.size();
            if (page.size() < 256) break;
            after = page.back().id;
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(n));
}

void count_queue(benchmark::State& state) {
    spool::sqlite_store store(spool_file());
    const auto now = std::chrono::system_clock::now();
    for (auto _ : state) benchmark::DoNotOptimize(store.count_queue(now));
    state.SetItemsProcessed(state.iterations() * queued);
}

// Holds and releases, 256 to a transaction.
void hold_and_release(benchmark::State& state) {
    spool::sqlite_store store(spool_file());
    const auto now = std::chrono::system_clock::now();
    std::uint64_t next = 1;
    for (auto _ : state) {
        (void)store.batch([&] {
            for (int i = 0; i < 256; ++i) {
                const spool::message_id id{next + static_cast<std::uint64_t>(i)};
                (void)store.hold(id, now);
                (void)store.release(id, now);
            }
        });
        next = next + 256 > queued - 256 ? 1 : next + 256;
    }
    state.SetItemsProcessed(state.iterations() * 256);
}

} // namespace

BENCHMARK(raw_scan_and_decode)->Unit(benchmark::kMillisecond);
BENCHMARK(list_queue_all)->Unit(benchmark::kMillisecond);
BENCHMARK(count_queue)->Unit(benchmark::kMillisecond);
BENCHMARK(hold_and_release)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
