#!/usr/bin/env python3
"""The runs of pairs.sh with their cpu/tx column (the process's CPU time a transaction, which CPU taken by other
processes changes less than tx/s), in summary.txt's order; B/A of cpu/tx per pair (below 1: B used less CPU a
transaction) and its median per thread count.
usage: cpu_tx.py PAIRS_DIR"""
import os, re, statistics, sys
d = sys.argv[1]
runs = {}
for l in open(os.path.join(d, 'summary.txt')):
    m = re.match(r't(\d) (\w+) (\S+) ', l)
    if not m:
        continue
    t, name, start = m.groups()
    row = [r for r in open(os.path.join(d, f"{name}-t{t}-{start}.txt")) if r.startswith('bufpool-btree ')][0].split()
    runs.setdefault(t, []).append((name, start, float(row[2].removesuffix('us'))))
for t, rs in sorted(runs.items(), reverse=True):
    ratios = []
    for c in range(0, len(rs) - 3, 4):
        (_, _, a1), (_, _, b1), (_, _, b2), (_, _, a2) = rs[c:c + 4]
        ratios += [b1 / a1, b2 / a2]
    print(f"t{t} cpu/tx (us): " + ", ".join(f"{n} {x}" for n, _, x in rs))
    print(f"t{t} cpu/tx B/A by pair: " + ", ".join(f"{r:.3f}" for r in ratios) + f"; median {statistics.median(ratios):.3f}")
