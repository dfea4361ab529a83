#!/usr/bin/env python3
"""Times the compiler on a translation unit that includes <spool/spool.hpp>
and instantiates a pipeline with 3 transports and 3 preprocessors, against one
that includes only <boost/hana.hpp>, <range/v3/all.hpp> and the standard
headers spool uses. Google Benchmark cannot time a compiler, so this does:
best of 5 wall-clock runs each. Prints JSON rows for benchmarks/report.py."""

import json
import pathlib
import subprocess
import sys
import tempfile
import time

root = pathlib.Path(__file__).resolve().parent.parent

SPOOL_TU = r'''
#include <spool/spool.hpp>
template <int N> struct transport {
    using spool_concept = spool::transport_tag;
    spool::address_types address_types() const { return {"T" + std::to_string(N)}; }
    spool::transmit_result transmit(spool::transmission<spool::message>& tx) {
        for (const auto& r : tx.recipients()) tx.sent(r);
        return spool::transmit_result::done();
    }
};
template <int N> struct preprocessor {
    using spool_concept = spool::preprocessor_tag;
    spool::address_types address_types() const { return spool::address_types::any(); }
    spool::preprocess_result preprocess(spool::preprocessing<spool::message>&) { return spool::preprocess_result::ok(); }
};
int main() {
    spool::spooler sp{spool::memory_store{}, transport<1>{}, transport<2>{}, transport<3>{},
                      preprocessor<1>{}, preprocessor<2>{}, preprocessor<3>{}};
    spool::message m;
    m.recipients.push_back({"A", "a", "T1"});
    sp.client().send(m);
    sp.start();
    sp.stop();
    return static_cast<int>(sp.drain().finished);
}
'''

BASELINE_TU = r'''
#include <boost/hana.hpp>
#include <range/v3/all.hpp>
''' + "".join(f"#include <{h}>\n" for h in [
    "algorithm", "array", "atomic", "cctype", "chrono", "concepts", "condition_variable", "cstddef", "cstdint",
    "exception", "functional", "initializer_list", "map", "memory", "mutex", "optional", "set", "stdexcept",
    "string", "string_view", "system_error", "thread", "tuple", "type_traits", "unordered_map",
    "unordered_set", "utility", "variant", "vector"]) + "int main() { return 0; }\n"


def best_of(command, runs=5):
    best = None
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best


rows = []
with tempfile.TemporaryDirectory() as scratch:
    scratch = pathlib.Path(scratch)
    (scratch / "spool_tu.cpp").write_text(SPOOL_TU)
    (scratch / "baseline_tu.cpp").write_text(BASELINE_TU)
    for cxx in ("g++-12", "clang++-14"):
        for mode, flags in (("-fsyntax-only", ["-fsyntax-only"]), ("-O2", ["-O2", "-c", "-o", str(scratch / "out.o")])):
            times = {}
            for tu in ("spool_tu", "baseline_tu"):
                times[tu] = best_of([cxx, "-std=c++20", f"-I{root / 'include'}", *flags, str(scratch / f"{tu}.cpp")])
            rows.append({"compiler": cxx, "mode": mode, "spool_s": times["spool_tu"], "baseline_s": times["baseline_tu"],
                         "ratio": times["spool_tu"] / times["baseline_tu"]})
json.dump(rows, sys.stdout)
