#!/usr/bin/env python3
"""Reads Google Benchmark JSON files and the compile-time rows, and prints one
markdown table of every figure, with the ratios the issue's targets are about.
Usage: report.py comparison.json scaling.json durable.json rss.json compile_time.json"""

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
composition = {**comparison, **scaling}


def ns_per_item(b):
    return 1e9 / b["items_per_second"]


def rate(b):
    return b["items_per_second"]


cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
gcc = subprocess.run(["g++-12", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
print(f"Machine: {os.cpu_count()} cores, {cpu}, {mem_gib:.0f} GiB; {gcc}; Release build.\n")
print("| figure | value | baseline (same run) | ratio | target |")
print("| --- | --- | --- | --- | --- |")

a, b, c = (composition[f"{n}/1000"] for n in ("a_spool_pipeline", "b_hand_written", "c_runtime_polymorphic"))
print(f"| (a) spool pipeline, per message (3 recipients, 2 transports, 1 preprocessor) | {ns_per_item(a):.0f} ns | (b) hand-written loop {ns_per_item(b):.0f} ns | a/b {ns_per_item(a) / ns_per_item(b):.2f} | ≤ 1.10 |")
b0 = composition.get("b0_store_operations_only/1000")
if b0:
    print(f"| (a) spool pipeline vs (b0) the store operations alone, no decisions | {ns_per_item(a):.0f} ns | (b0) {ns_per_item(b0):.0f} ns | a/b0 {ns_per_item(a) / ns_per_item(b0):.2f} | |")
print(f"| (a) spool pipeline vs (c) runtime-polymorphic parts | {ns_per_item(a):.0f} ns | (c) {ns_per_item(c):.0f} ns | a/c {ns_per_item(a) / ns_per_item(c):.2f} | < 1 |")
for n in (1000, 100000, 1000000):
    q = composition.get(f"queue_scaling/{n}/iterations:1")
    if q:
        print(f"| draining a queue of {n:,} messages, per message | {ns_per_item(q):.0f} ns | | | flat |")
m = composition.get("memory_per_queued_message/100000/iterations:1")
if m:
    print(f"| heap bytes per queued message, in-memory store | {m['bytes_per_queued_message']:.0f} B | | | |")

raw1, raw64 = durable["raw_sqlite_insert/1/real_time"], durable["raw_sqlite_insert/64/real_time"]
e1, e64 = durable["spool_sqlite_end_to_end/1/real_time"], durable["spool_sqlite_end_to_end/64/real_time"]
print(f"| SQLite end to end, a commit per step | {rate(e1):,.0f} msg/s | raw insert, 1 row/tx {rate(raw1):,.0f}/s | {rate(e1) / rate(raw1):.2f} | |")
print(f"| SQLite end to end, group commit (64) | {rate(e64):,.0f} msg/s | raw insert, 64 rows/tx {rate(raw64):,.0f}/s | {rate(e64) / rate(raw64):.2f} | ≥ 25k/s and ≥ 0.3 |")
for t in (1, 2, 4):
    s = durable.get(f"concurrent_submitters/{t}/real_time")
    if s:
        print(f"| SQLite submits from {t} thread(s) | {rate(s):,.0f} msg/s | | {s['operations_per_commit']:.2f} operations per commit | |")
r = rss.get("sqlite_peak_rss/1000000/iterations:1")
if r:
    print(f"| peak RSS, 1,000,000 messages queued in SQLite | {r['peak_rss_mib']:.0f} MiB | | | not all in memory |")
for row in compile_rows:
    print(f"| compile {row['compiler']} {row['mode']}: spool TU (3 transports, 3 preprocessors) | {row['spool_s']:.2f} s | hana.hpp + range/v3/all.hpp {row['baseline_s']:.2f} s | {row['ratio']:.2f} | ≤ 1.0 |")
