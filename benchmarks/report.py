#!/usr/bin/env python3
"""Reads Google Benchmark JSON files and the compile-time rows, and prints one
markdown table of every figure, with the ratios the issue's targets are about.
Usage: report.py comparison.json scaling.json durable.json rss.json compile_time.json [instructions.json [stop_wake.json [concurrent.json]]]"""

import json
import os
import platform
import subprocess
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def medians(doc):
    out = {}
    for b in doc["benchmarks"]:
        if b.get("aggregate_name", "median") != "median":
            continue
        out[b.get("run_name", b["name"])] = b
    return out


comparison, scaling, durable, rss = (medians(load(p)) for p in sys.argv[1:5])
compile_rows = load(sys.argv[5])
instructions = load(sys.argv[6]) if len(sys.argv) > 6 else None
stop_wake = medians(load(sys.argv[7])) if len(sys.argv) > 7 else None
concurrent = medians(load(sys.argv[8])) if len(sys.argv) > 8 else None
composition = {**comparison, **scaling}


def ns_per_item(b):
    return 1e9 / b["items_per_second"]


def rate(b):
    return b["items_per_second"]


cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
gcc = subprocess.run(["g++-12", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
print(f"Machine: {os.cpu_count()} cores, {cpu}, {mem_gib:.0f} GiB; {gcc}; Release build.\n")


def row(*cells):
    """One table row: figure, value, baseline, ratio, target."""
    print("|" + "|".join(f" {c} " if c else " " for c in cells) + "|")


row("figure", "value", "baseline (same run)", "ratio", "target")
row(*["---"] * 5)

a, b, c = (composition[f"{n}/1000"] for n in ("a_spool_pipeline", "b_hand_written", "c_runtime_polymorphic"))
row("(a) spool pipeline, per message (3 recipients, 2 transports, 1 preprocessor)", f"{ns_per_item(a):.0f} ns",
    f"(b) hand-written loop {ns_per_item(b):.0f} ns", f"a/b {ns_per_item(a) / ns_per_item(b):.2f}", "≤ 1.05")
b0 = composition.get("b0_store_operations_only/1000")
if b0:
    row("(a) spool pipeline vs (b0) the store operations alone, no decisions", f"{ns_per_item(a):.0f} ns",
        f"(b0) {ns_per_item(b0):.0f} ns", f"a/b0 {ns_per_item(a) / ns_per_item(b0):.2f}", "")
row("(a) spool pipeline vs (c) runtime-polymorphic parts", f"{ns_per_item(a):.0f} ns", f"(c) {ns_per_item(c):.0f} ns",
    f"a/c {ns_per_item(a) / ns_per_item(c):.2f}", "< 1")
if instructions:
    ia, ib, ic = (instructions[w] for w in ("a", "b", "c"))
    row("(a) instructions per message (callgrind: the same whatever the machine's load)", f"{ia:,.0f}",
        f"(b) {ib:,.0f}; (c) {ic:,.0f}", f"a/b {ia / ib:.3f}; a/c {ia / ic:.3f}", "a/b ≤ 1.05; a/c < 1")
for n in (1000, 100000, 1000000):
    if q := composition.get(f"queue_scaling/{n}/iterations:1"):
        row(f"draining a queue of {n:,} messages, per message", f"{ns_per_item(q):.0f} ns", "", "", "flat")
if m := composition.get("memory_per_queued_message/100000/iterations:1"):
    row("heap bytes per queued message, in-memory store", f"{m['bytes_per_queued_message']:.0f} B", "", "", "")

raw1, raw64 = durable["raw_sqlite_insert/1/real_time"], durable["raw_sqlite_insert/64/real_time"]
e1, e64 = (durable[f"spool_sqlite_end_to_end/batch:{n}/group:64/real_time"] for n in (1, 64))
row("SQLite end to end, a commit per step", f"{rate(e1):,.0f} msg/s", f"raw insert, 1 row/tx {rate(raw1):,.0f}/s",
    f"{rate(e1) / rate(raw1):.2f}", "")
row("SQLite end to end, group commit (64)", f"{rate(e64):,.0f} msg/s", f"raw insert, 64 rows/tx {rate(raw64):,.0f}/s",
    f"{rate(e64) / rate(raw64):.2f}", "≥ 25k/s and ≥ 0.3")
if e64g1 := durable.get("spool_sqlite_end_to_end/batch:64/group:1/real_time"):
    row("SQLite end to end, each outcome committed before the next hand-off (group_commits(1))",
        f"{rate(e64g1):,.0f} msg/s", f"group commit (64) {rate(e64):,.0f} msg/s", f"{rate(e64g1) / rate(e64):.2f}",
        "the price of at most one re-send after a crash")
for t in (1, 2, 4):
    if s := durable.get(f"concurrent_submitters/{t}/real_time"):
        row(f"SQLite submits from {t} thread(s)", f"{rate(s):,.0f} msg/s", "",
            f"{s['operations_per_commit']:.2f} operations per commit", "")
if r := rss.get("sqlite_peak_rss/1000000/iterations:1"):
    row("peak RSS, 1,000,000 messages queued in SQLite", f"{r['peak_rss_mib']:.0f} MiB", "", "", "not all in memory")
if stop_wake:
    if st := stop_wake.get("stop_with_2000_due/iterations:5/real_time"):
        row("stop() with 2000 due messages, 2 ms hand-offs", f"{st['real_time']:.1f} ms", "", "", "one hand-off at most")
    if w := stop_wake.get("submit_from_another_connection/iterations:20/manual_time"):
        row("submit from another connection (process) to its hand-off, no wake()", f"{w['real_time']:.1f} ms",
            "idle wait 60 s", "", "≤ 100 ms")
if concurrent:
    for store in ("memory", "sqlite"):
        for limit, n in ((1, 0), (8, 0), (64, 0), (64, 20000), (64, 200000)):
            if b := concurrent.get(f"latency_bound_{store}/{limit}/{n}/iterations:3/real_time"):
                row(f"5 ms hand-offs, max_in_flight {limit}, {b['messages']:,.0f} messages, {store} store",
                    f"{b['msgs_per_s']:,.0f} msg/s", f"ideal {b['ideal_per_s']:,.0f} msg/s",
                    f"{b['msgs_per_s'] / b['ideal_per_s']:.2f}", "≥ 0.8" if limit == 64 else "")
    alone, beside = (concurrent.get(f"{n}/iterations:3/real_time") for n in ("fast_alone", "fast_beside_slow"))
    if alone and beside:
        row("a fast transport beside a 200 ms one", f"{beside['msgs_per_s']:,.0f} msg/s",
            f"alone {alone['msgs_per_s']:,.0f} msg/s", f"{beside['msgs_per_s'] / alone['msgs_per_s']:.2f}", "≥ 0.9")
    empty, full = (concurrent.get(f"backlog/{n}/iterations:200/real_time") for n in (0, 1000000))
    if empty and full:
        row("submit to delivery with 1,000,000 messages waiting on a down transport (SQLite)",
            f"{full['real_time'] / 1000:.2f} ms", f"empty queue {empty['real_time'] / 1000:.2f} ms",
            f"{full['real_time'] / empty['real_time']:.2f}", "≤ 2")
for c in compile_rows:
    if c["mode"] == "umbrella":
        row(f"parse {c['compiler']} -fsyntax-only: <spool/spool.hpp> alone ({c['spool_headers']} spool headers, "
            f"{c['umbrella_lines']:,} preprocessed lines)", f"{c['spool_s']:.2f} s",
            f"its floor: the {c['floor_headers']} std/Boost/range-v3 headers they include ({c['floor_lines']:,} lines) "
            f"{c['baseline_s']:.2f} s", f"{c['ratio']:.2f}", "≤ 1.5")
        continue
    if c["mode"].startswith("quickstart"):
        rev = c["mode"].split(" vs ", 1)[1]
        row(f"compile {c['compiler']} examples/quickstart.cpp -O2", f"{c['spool_s']:.2f} s",
            f"the same at {rev} {c['baseline_s']:.2f} s", f"{c['ratio']:.2f}", "≤ 0.6")
        continue
    row(f"compile {c['compiler']} {c['mode']}: spool TU (3 transports, 3 preprocessors)", f"{c['spool_s']:.2f} s",
        f"hana.hpp + range/v3/all.hpp {c['baseline_s']:.2f} s", f"{c['ratio']:.2f}", "≤ 1.0")
