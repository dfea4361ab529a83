#!/usr/bin/env python3
"""Checks the include graph of include/spool against docs/architecture.md.

usage: check_layers.py ARCHITECTURE_MD INCLUDE_DIR
       check_layers.py --planted ARCHITECTURE_MD INCLUDE_DIR

The second form checks the check: in a copy of the tree it plants, one at a
time, a violation of each rule, and fails unless each is caught and named.

Reads the parts table of the architecture page, puts every header under
INCLUDE_DIR/spool into exactly one part, and reads every `#include <spool/...>`.
Fails (exit 1), naming the file, the line and the include, when:
  - a header belongs to no part, or to two;
  - an include crosses into a part its part's row does not list;
  - an include names a header that does not exist;
  - one of the page's "Never" rules breaks (checked on the graph itself, not
    on the table, so that widening a row cannot break one silently).
"""

import contextlib
import fnmatch
import io
import pathlib
import re
import shutil
import sys
import tempfile

OPTIONAL_LATER = {"dkim", "web"}  # parts to come; rule 5 already covers them


def read_parts(architecture):
    text = architecture.read_text(encoding="utf-8")
    start = text.index("<!-- parts:")
    end = text.index("<!-- end of parts -->")
    parts = {}
    for line in text[start:end].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("part", "---") or cells[0].startswith("<!--"):
            continue
        name, kind, headers, may = cells
        parts[name] = {
            "kind": kind,
            "globs": headers.split(),
            "may": set(may.split()),
        }
    if not parts:
        sys.exit(f"{architecture}: no parts table between '<!-- parts:' and '<!-- end of parts -->'")
    for name, p in parts.items():
        for m in p["may"]:
            if m not in parts:
                sys.exit(f"{architecture}: part '{name}' may include '{m}', which is no part")
    return parts


def matches(path, glob):
    if glob.endswith("/**"):
        return path.startswith(glob[:-2])
    return fnmatch.fnmatchcase(path, glob)


def part_of(path, parts):
    # The most specific glob wins: `detail/requirements.hpp` (roles) over `detail/**` (engine).
    best, best_len, ties = None, float("-inf"), []
    for name, p in parts.items():
        for g in p["globs"]:
            if matches(path, g):
                specific = len(g) - (100 if g.endswith("**") else 0)
                if specific > best_len:
                    best, best_len, ties = name, specific, [name]
                elif specific == best_len and name != best:
                    ties.append(name)
    return best, ties


INCLUDE = re.compile(r'^\s*#\s*include\s*[<"](spool/[^>"]+)[>"]')
DEFINES = re.compile(r'^\s*(?:template\s*<[^>]*>\s*)?(?:class|struct)\s+(\w+)\s*(?:final\s*)?[:{]', re.M)


def check(architecture, include_dir):
    parts = read_parts(architecture)
    root = include_dir / "spool"
    headers = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.hpp"))
    failures = []

    owner = {}
    for h in headers:
        name, ties = part_of(h, parts)
        if name is None:
            failures.append(f"include/spool/{h}: belongs to no part of {architecture.name}; add it to a row")
        elif len(ties) > 1:
            failures.append(f"include/spool/{h}: belongs to {' and '.join(ties)} alike; make one row more specific")
        else:
            owner[h] = name

    optional = {n for n, p in parts.items() if p["kind"] == "optional"} | OPTIONAL_LATER
    stores = {"store-kit", "sqlite", "postgres"}

    def never(src_part, dst_part, src, dst):
        """The page's "Never" rules, by number, that this include breaks."""
        broken = []
        foundations = {"vocabulary", "hand-off", "roles", "mail", "store-kit"}
        if src_part in foundations and dst_part == "engine":
            broken.append(1)
        if src_part == "hand-off" and dst_part not in ("vocabulary", "hand-off"):
            broken.append(2)
        usable_alone = {"memory-parts", "store-kit", "sqlite", "postgres", "smtp", "dkim"}
        if src_part in usable_alone and dst_part in ("engine", "client", "front", "umbrella"):
            broken.append(3)
        is_transport = src.startswith("transports/") or src_part == "smtp"
        if is_transport and (dst_part in stores or dst.startswith("stores/")):
            broken.append(3)
        if src_part == "engine" and (dst_part in ("umbrella", "client", "front", "testing") or dst_part in optional):
            broken.append(4)
        if src_part in optional and dst_part in optional and src_part != dst_part:
            broken.append(5)
        if src_part == "umbrella" and dst_part in optional:
            broken.append(6)
        if src_part in ("ops", "testing") and dst_part == "engine":
            broken.append(7)
        if parts.get(src_part, {}).get("kind") == "core" and dst_part in optional:
            broken.append(8)
        return broken

    edges = 0
    for h in headers:
        if h not in owner:
            continue
        src_part = owner[h]
        for number, line in enumerate((root / h).read_text(encoding="utf-8").splitlines(), 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            target = m.group(1)[len("spool/"):]
            where = f"include/spool/{h}:{number}: includes <spool/{target}>"
            if not (root / target).is_file():
                failures.append(f"{where}, which does not exist")
                continue
            edges += 1
            dst_part = owner.get(target)
            if dst_part is None:
                continue  # reported above
            for rule in never(src_part, dst_part, h, target):
                failures.append(f"{where}: {src_part} -> {dst_part} breaks rule {rule} under \"Never\"")
            if dst_part != src_part and dst_part not in parts[src_part]["may"]:
                failures.append(f"{where}: part '{src_part}' may not include part '{dst_part}' ({architecture.name})")

    # Rule 2's second half: a hand-off type names no type the engine defines.
    # Hand-off headers are in namespace spool and the engine's types in
    # spool::detail, so a use is always written detail::<name>.
    engine_types = set()
    for h, p in owner.items():
        if p == "engine":
            engine_types |= set(DEFINES.findall((root / h).read_text(encoding="utf-8")))
    engine_types.discard("handoff_key_maker")  # the key's maker is the hand-off part's own
    for h, p in owner.items():
        if p != "hand-off":
            continue
        for number, line in enumerate((root / h).read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("//")[0]
            for t in re.findall(r"\bdetail::(\w+)", code):
                if t in engine_types:
                    failures.append(f"include/spool/{h}:{number}: names the engine's type '{t}' (rule 2 under \"Never\")")

    if failures:
        print(f"{len(failures)} layer violation(s):")
        for f in failures:
            print("  " + f)
        return 1
    print(f"layers: {len(headers)} headers in {len(parts)} parts, {edges} includes, all as {architecture.name} says")
    return 0


# (file that gets the include, the include, what the failure must say)
PLANTS = [
    ("transmission.hpp", "spool/detail/core.hpp", "rule 1"),
    ("transmission.hpp", "spool/client.hpp", "rule 2"),
    ("sqlite/store.hpp", "spool/spooler.hpp", "rule 3"),
    ("smtp/transport.hpp", "spool/stores/detail/lease_book.hpp", "rule 3"),
    ("detail/outgoing.hpp", "spool/client.hpp", "rule 4"),
    ("sqlite/store.hpp", "spool/smtp/options.hpp", "rule 5"),
    ("spool.hpp", "spool/sqlite.hpp", "rule 6"),
    ("ops/metrics.hpp", "spool/detail/outgoing.hpp", "rule 7"),
    ("message.hpp", "spool/ops/metrics.hpp", "rule 8"),
    ("mail/codec.hpp", "spool/concepts.hpp", "may not include part 'roles'"),
    ("message.hpp", "spool/nowhere.hpp", "does not exist"),
    ("recipient_outcome.hpp", "text:void f(spool::detail::handoff_inbox&);", "names the engine's type"),
]


def planted(architecture, include_dir):
    missed = []
    with tempfile.TemporaryDirectory() as tmp:
        for file, include, expected in PLANTS + [(None, None, "belongs to no part")]:
            copy = pathlib.Path(tmp) / "include"
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(include_dir, copy)
            if file is None:  # a header that no row names
                (copy / "spool" / "stray.hpp").write_text("#pragma once\n")
                what = "a header in no part"
            else:
                target = copy / "spool" / file
                line = include[len("text:"):] if include.startswith("text:") else f"#include <{include}>"
                target.write_text(target.read_text(encoding="utf-8") + f"\n{line}\n")
                what = f"{file} with `{line}`"
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                status = check(architecture, copy)
            named = file is None or f"include/spool/{file}:" in out.getvalue()
            if status == 0 or expected not in out.getvalue() or not named:
                missed.append(f"{what}: expected a failure naming it and saying '{expected}', got:\n{out.getvalue()}")
            else:
                print(f"caught: {what} ({expected})")
    if missed:
        print("the check let these through:")
        for m in missed:
            print("  " + m)
        return 1
    print(f"layers: all {len(PLANTS) + 1} planted violations were caught")
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--planted":
        sys.exit(planted(pathlib.Path(args[1]), pathlib.Path(args[2])))
    sys.exit(check(pathlib.Path(args[0]), pathlib.Path(args[1])))
