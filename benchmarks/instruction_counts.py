#!/usr/bin/env python3
"""Counts the instructions (a), (b), (b0) and (c) of the composition benchmark
execute per message, with valgrind's callgrind, and prints JSON rows for
benchmarks/report.py. Instruction counts are the same from run to run
whatever else the machine does, so they show the work each way does apart
from the drift of time on a shared machine.
Usage: instruction_counts.py build/bench/benchmarks/spool_instruction_counts"""

import json
import re
import subprocess
import sys
import tempfile

driver = sys.argv[1]
rows = {}
with tempfile.TemporaryDirectory() as scratch:
    for way in ("a", "b", "b0", "c"):
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={scratch}/{way}.out",
             "--toggle-collect=*counted_rounds*", driver, way],
            capture_output=True, text=True, check=True)
        collected = re.search(r"Collected : (\d+)", done.stderr)
        if not collected:
            sys.exit(f"instruction_counts.py: callgrind printed no count for {way}:\n{done.stderr}")
        rows[way] = int(collected.group(1)) / int(done.stdout.strip())
json.dump(rows, sys.stdout)
