#!/usr/bin/env python3
"""Times the compiler on a translation unit that includes <spool/spool.hpp>
and instantiates a pipeline with 3 transports and 3 preprocessors, against one
that includes only <boost/hana.hpp>, <range/v3/all.hpp> and the standard
headers spool uses. Google Benchmark cannot time a compiler, so this does:
the least CPU time of 5 runs each.

It also measures <spool/spool.hpp> alone against its dependency floor: a
translation unit that includes exactly the standard, Boost and range-v3
headers that the spool headers it pulls in include (read off those headers,
so the floor follows the code): preprocessed lines and -fsyntax-only time.
With `--against REV` it also times examples/quickstart.cpp at -O2 (g++ 12,
what a user's first build costs) here and at the commit REV, exported from
git, in the same run.
Prints JSON rows for benchmarks/report.py."""

import json
import pathlib
import re
import resource
import subprocess
import sys
import tempfile

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
    """The least CPU time (user + system) the compiler took in `runs` runs: CPU
    time, not wall-clock, so that another process on the machine moves it less."""
    best = None
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        elapsed = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best = elapsed if best is None else min(best, elapsed)
    return best


def umbrella_floor():
    """The non-spool headers that the spool headers <spool/spool.hpp> reaches include."""
    include = root / "include"
    seen, todo, external = set(), ["spool/spool.hpp"], set()
    while todo:
        header = todo.pop()
        if header in seen:
            continue
        seen.add(header)
        for name in re.findall(r'^\s*#\s*include\s*<([^>]+)>', (include / header).read_text(), re.M):
            if name.startswith("spool/"):
                todo.append(name)
            else:
                external.add(name)
    return sorted(external), len(seen)


def preprocessed_lines(cxx, source):
    out = subprocess.run([cxx, "-std=c++20", f"-I{root / 'include'}", "-E", "-P", str(source)],
                         check=True, capture_output=True, text=True).stdout
    return sum(1 for line in out.splitlines() if line.strip())


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
    floor, spool_headers = umbrella_floor()
    (scratch / "umbrella.cpp").write_text("#include <spool/spool.hpp>\n")
    (scratch / "floor.cpp").write_text("".join(f"#include <{h}>\n" for h in floor))
    for cxx in ("g++-12", "clang++-14"):
        measured = {}
        for tu in ("umbrella", "floor"):
            source = scratch / f"{tu}.cpp"
            measured[tu] = (preprocessed_lines(cxx, source),
                            best_of([cxx, "-std=c++20", f"-I{root / 'include'}", "-fsyntax-only", str(source)]))
        rows.append({"compiler": cxx, "mode": "umbrella", "spool_headers": spool_headers, "floor_headers": len(floor),
                     "umbrella_lines": measured["umbrella"][0], "floor_lines": measured["floor"][0],
                     "spool_s": measured["umbrella"][1], "baseline_s": measured["floor"][1],
                     "ratio": measured["umbrella"][1] / measured["floor"][1]})
    if "--against" in sys.argv:
        rev = sys.argv[sys.argv.index("--against") + 1]
        old = scratch / "against"
        old.mkdir()
        archive = subprocess.run(["git", "-C", str(root), "archive", rev, "include", "examples/quickstart.cpp"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        quick = {}
        for name, tree in (("head", root), ("against", old)):
            quick[name] = best_of(["g++-12", "-std=c++20", f"-I{tree / 'include'}", "-O2", "-c", "-o", str(scratch / "quick.o"),
                                   str(tree / "examples" / "quickstart.cpp")])
        rows.append({"compiler": "g++-12", "mode": f"quickstart -O2 vs {rev}", "spool_s": quick["head"],
                     "baseline_s": quick["against"], "ratio": quick["head"] / quick["against"]})
json.dump(rows, sys.stdout)
