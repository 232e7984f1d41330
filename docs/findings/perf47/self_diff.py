#!/usr/bin/env python3
"""perf47: self instructions by function for the transactions a longer fixed count runs past a shorter one
(callgrind_annotate --threshold=100 --auto=no of lead28/cg.sh's two .cg files), the top N a transaction.
usage: self_diff.py SHORT.self LONG.self TRANSACTIONS [N]"""
import re, sys
def read(p):
    got = {}
    for l in open(p):
        m = re.match(r'\s*([\d,]+) \([^)]*\)\s+(\S+?):(.*?)(?: \[.*\])?$', l)
        if m:
            fn = m.group(3)
            got[fn] = got.get(fn, 0) + int(m.group(1).replace(',', ''))
    return got
a, b, n = read(sys.argv[1]), read(sys.argv[2]), int(sys.argv[3])
top = int(sys.argv[4]) if len(sys.argv) > 4 else 30
d = sorted(((b[f] - a.get(f, 0), f) for f in b), reverse=True)
tot = sum(x for x, _ in d)
print(f"all: {tot / n:.0f} a transaction")
for x, f in d[:top]:
    print(f"{x / n:8.0f}  {f}")
