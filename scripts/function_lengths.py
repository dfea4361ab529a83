#!/usr/bin/env python3
"""Lists the engine's functions by length (lines from signature to closing
brace), longest first: a rough reading of the code's shape, for comparing a
change's before and after with the same ruler. Lambdas count within their
function. Usage: function_lengths.py [DIR=include/spool/detail] [TOP=15]"""

import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "include/spool/detail")
top = int(sys.argv[2]) if len(sys.argv) > 2 else 15
not_functions = re.compile(r"\b(if|for|while|switch|catch|do|else|try|struct|class|union|namespace|enum)\b|=\s*$|\[[^\]]*\]\s*(\([^)]*\))?\s*(mutable\s*)?(->.*)?$")

rows = []
for path in sorted(root.rglob("*.hpp")):
    text = re.sub(r"//[^\n]*", "", path.read_text())
    text = re.sub(r'"(\\.|[^"\\])*"', '""', text)
    lines = text.split("\n")
    head = ""       # text since the last ; { or } at this point
    stack = []      # (is_function, name, start_line)
    for n, line in enumerate(lines, 1):
        for ch in line:
            if ch == "{":
                sig = re.sub(r"^template\s*<[^{]*?>\s*(requires[^{]*?\)\s*)?(?=[\w~])", "", " ".join(head.split()))
                m = re.search(r"([~\w]+|operator\s*\S+)\s*\([^()]*(\([^()]*\)[^()]*)*\)\s*(const)?\s*(noexcept)?\s*(override)?\s*(requires.*)?(:.*)?$", sig)
                inside_function = any(f for f, _, _ in stack)
                is_function = bool(m) and not not_functions.search(sig.split("(")[0] + ("" if m else "")) and not inside_function
                stack.append((is_function, m.group(1) if m else "", n))
                head = ""
            elif ch == "}":
                if stack:
                    is_function, name, start = stack.pop()
                    if is_function:
                        rows.append((n - start + 1, f"{path.relative_to(root)}:{name}"))
                head = ""
            elif ch == ";":
                head = ""
            else:
                head += ch
        head += " "

rows.sort(reverse=True)
print(f"{len(rows)} functions in {root}; longest {top}:")
for length, name in rows[:top]:
    print(f"  {length:4d}  {name}")
