"""Reads spoolctl's --json output with Python's json module: every line must be
one JSON object, with the fields the README documents for its command.
Usage: check_json.py <file> <list|stats|operation|suppression> <expected line count>"""
import json
import sys

path, kind, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
required = {
    "list": {"id", "submit_time", "size", "state", "held", "request", "next_attempt", "locked", "waiting_for", "decoded"},
    "stats": {"total", "due", "deferred", "held", "in_hand", "requested", "waiting"},
    "operation": {"id", "operation"},
    "suppression": {"address", "reason", "diagnostic", "added", "expires", "source"},
}[kind]
lines = open(path, encoding="utf-8").read().splitlines()
if len(lines) != expected:
    sys.exit(f"{len(lines)} lines, expected {expected}")
for n, line in enumerate(lines, 1):
    value = json.loads(line)
    if not isinstance(value, dict):
        sys.exit(f"line {n} is not a JSON object")
    missing = required - value.keys()
    if missing:
        sys.exit(f"line {n} lacks {sorted(missing)}")
    if kind == "list" and value["decoded"]:
        for r in value["recipients"]:
            if not {"address", "address_type", "status"} <= r.keys():
                sys.exit(f"line {n}: a recipient lacks its address, type or status")
print(len(lines))
