#!/usr/bin/env bash
# The walk of one message through the engine, measured: builds a program that
# sends one message through a spooler (memory store, one synchronous
# transport) and drains it, at -O0 so that every function is a call, runs it
# under valgrind's callgrind, and lists the spool functions it entered, by
# file (constructors and destructors left out). Compare two trees with the
# same ruler:
#   scripts/message_walk.sh include              # this tree, the default composition
#   scripts/message_walk.sh include inline       # the transport declares max_in_flight = 1
#   git archive REV include | tar -x -C /tmp/rev && scripts/message_walk.sh /tmp/rev/include
set -euo pipefail
include=$(realpath "$1")
shape=${2:-default}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
limit=""
if [ "$shape" = inline ]; then limit="static constexpr std::size_t max_in_flight = 1;"; fi
cat > "$work/walk.cpp" <<EOF
#include <spool/spool.hpp>
struct sms_gateway {
    using spool_concept = spool::transport_tag;
    $limit
    spool::address_types address_types() const { return {"SMS"}; }
    spool::transmit_result transmit(spool::transmission<spool::message>& tx) {
        for (const auto& r : tx.recipients()) tx.sent(r);
        return spool::transmit_result::done();
    }
};
int main() {
    spool::spooler sp{spool::memory_store{}, sms_gateway{}};
    spool::message m;
    m.recipients = {{"Ann", "+15550100", "SMS"}};
    sp.client().send(m);
    return static_cast<int>(sp.drain().finished) - 1;
}
EOF
g++ -std=c++20 -O0 -g -I"$include" "$work/walk.cpp" -o "$work/walk" -lpthread
valgrind --tool=callgrind --callgrind-out-file="$work/walk.out" "$work/walk" >/dev/null 2>&1
callgrind_annotate --threshold=100 "$work/walk.out" 2>/dev/null | grep "include/spool/" |
    sed -E 's/^ *[0-9,]+ *(\([^)]*\))? *//; s/ \[.*$//' > "$work/functions.txt"
python3 - "$work/functions.txt" "$shape" <<'EOF'
import re, sys
functions, files = set(), set()
for line in open(sys.argv[1]):
    path, _, fn = line.strip().partition(":")
    if not fn:
        continue
    rel = path.split("include/spool/")[-1]
    name = fn
    while re.search(r"<[^<>]*>", name):
        name = re.sub(r"<[^<>]*>", "", name)
    name = re.sub(r"\(.*", "", name).split(" ")[-1]
    if "{" in name or "lambda" in name:
        continue
    parts = name.split("::")
    if len(parts) >= 2 and (parts[-1] == parts[-2] or parts[-1].startswith("~")):
        continue  # made and destroyed, not walked
    functions.add((rel, name))
    files.add(rel)
engine = sorted(f for f in files if f.startswith("detail/") or f in ("client.hpp", "spooler.hpp"))
walked = sorted(f for f in functions if f[0] in engine)
print(f"{sys.argv[2]}: {len(files)} spool files, {len(functions)} spool functions; "
      f"engine (detail/, client, spooler): {len(engine)} files, {len(walked)} functions")
for f in engine:
    print(f"  {f}: " + ", ".join(sorted(n.split('::')[-1] for p, n in walked if p == f)))
EOF
