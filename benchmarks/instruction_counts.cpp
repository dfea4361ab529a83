// (a), (b) and (c) of composition_workloads.hpp for a fixed number of
// rounds, for valgrind's callgrind to count the instructions of. Time on a
// shared machine drifts by a few percent from run to run; instruction counts
// do not, so they show how much work each way does apart from that drift.
// benchmarks/instruction_counts.py runs it for each way under
// `valgrind --tool=callgrind --toggle-collect='*counted_rounds*'`.

#include "composition_workloads.hpp"

#include <cstdint>
#include <cstdio>
#include <string_view>

namespace {

constexpr std::int64_t messages = 1000;
constexpr int rounds = 5;

using run_fn = void (*)(const spool::message&, std::int64_t);

// The only function callgrind counts in: the rounds after the first, which
// leaves the allocator in the state the timed benchmark's repetitions see.
[[gnu::noinline]] void counted_rounds(run_fn run, const spool::message& m) {
    for (int i = 0; i < rounds; ++i) run(m, messages);
}

} // namespace

int main(int argc, char** argv) {
    const std::string_view which = argc > 1 ? argv[1] : "";
    const run_fn run = which == "a"    ? workload::spool_pipeline
                       : which == "b"  ? workload::hand_written<true>
                       : which == "b0" ? workload::hand_written<false>
                       : which == "c"  ? workload::runtime_polymorphic
                                       : nullptr;
    if (!run) {
        std::fprintf(stderr, "usage: %s a|b|b0|c\n", argv[0]);
        return 2;
    }
    const auto m = workload::three_recipients();
    run(m, messages); // warm-up, not counted
    counted_rounds(run, m);
    std::printf("%lld\n", static_cast<long long>(messages) * rounds); // messages counted
}
