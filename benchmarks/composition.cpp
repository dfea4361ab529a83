// What compile-time composition costs at run time, and how the in-memory
// pipeline scales. (a), (b), (b0) and (c) are described, and written, in
// composition_workloads.hpp.

#include "composition_workloads.hpp"

#include <spool/spool.hpp>

#include <benchmark/benchmark.h>

#include <malloc.h>

#include <cstdint>

namespace {

using namespace workload;

// Times n messages submitted and drained through one way of doing the job.
template <void (*Run)(const spool::message&, std::int64_t)>
void timed(benchmark::State& state) {
    const auto n = state.range(0);
    const auto m = three_recipients();
    for (auto _ : state) Run(m, n);
    state.SetItemsProcessed(state.iterations() * n);
}

void a_spool_pipeline(benchmark::State& state) { timed<spool_pipeline>(state); }
void b_hand_written(benchmark::State& state) { timed<hand_written<true>>(state); }
void b0_store_operations_only(benchmark::State& state) { timed<hand_written<false>>(state); }
void c_runtime_polymorphic(benchmark::State& state) { timed<runtime_polymorphic>(state); }
BENCHMARK(a_spool_pipeline)->Arg(1000);
BENCHMARK(b_hand_written)->Arg(1000);
BENCHMARK(b0_store_operations_only)->Arg(1000);
BENCHMARK(c_runtime_polymorphic)->Arg(1000);

// --- Scaling: draining a queue of n messages, per message ---------------------------
void queue_scaling(benchmark::State& state) {
    const auto n = state.range(0);
    const auto m = three_recipients();
    for (auto _ : state) {
        state.PauseTiming();
        spool::spooler sp{store_type{}, noop_transport<smtp_type>{}, noop_transport<fax_type>{}, noop_preprocessor{}, spool::inline_transports{}};
        auto client = sp.client();
        for (std::int64_t i = 0; i < n; ++i) client.send(m);
        state.ResumeTiming();
        sp.drain();
    }
    state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(queue_scaling)->Arg(1000)->Arg(100000)->Arg(1000000)->Iterations(1)->Unit(benchmark::kMillisecond);

// --- Memory: heap bytes per queued message in the in-memory store --------------------
void memory_per_queued_message(benchmark::State& state) {
    const auto n = state.range(0);
    const auto m = three_recipients();
    double per_message = 0;
    for (auto _ : state) {
        const auto before = mallinfo2().uordblks;
        {
            spool::spooler sp{store_type{}, noop_transport<smtp_type>{}};
            auto client = sp.client();
            for (std::int64_t i = 0; i < n; ++i) client.send(m);
            per_message = static_cast<double>(mallinfo2().uordblks - before) / static_cast<double>(n);
        }
    }
    state.counters["bytes_per_queued_message"] = per_message;
}
BENCHMARK(memory_per_queued_message)->Arg(100000)->Iterations(1)->Unit(benchmark::kMillisecond);

} // namespace

BENCHMARK_MAIN();
