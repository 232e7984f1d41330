#!/usr/bin/env python3
"""gap26's table from ab26.sh's summary.txt: per variant and thread count, tx/s and its ratio to vmcache in the
same call (each call runs vmcache first), per round; then the median of the ratios."""
import statistics, sys
from collections import defaultdict

vmc, runs = {}, defaultdict(list)  # runs[(T, name)] = [(round, group, tx/s, ratio, consistent, time)]
group = defaultdict(int)
for line in open(sys.argv[1]):
    f = line.split()
    r, t, name, at = f[0], f[1], f[2], f[3]
    if name == "vmcache":
        group[(r, t)] += 1
        vmc[(r, t, group[(r, t)])] = float(f[4])
        continue
    if len(f) < 8:
        runs[(t, name)].append((r, group[(r, t)], None, None, "failed", at))
        continue
    tx = float(f[6])
    v = vmc[(r, t, group[(r, t)])]
    runs[(t, name)].append((r, group[(r, t)], tx, tx / v, f[9], at))
# each variant against base in the same call (both ours, run next to each other)
base = {(x[0], t, x[1]): x[2] for (t, n), rs in runs.items() if n == "base" for x in rs}
for (t, name) in sorted(runs):
    if name == "base":
        continue
    rel = [x[2] / base[(x[0], t, x[1])] for x in runs[(t, name)] if x[2] and base.get((x[0], t, x[1]))]
    print(f"{t} {name} / base (same call): median {statistics.median(rel):.3f} | " + " ".join(f"{v:.3f}" for v in rel))
print("vmcache:", {k: int(v) for k, v in sorted(vmc.items())})
for (t, name) in sorted(runs):
    rs = runs[(t, name)]
    ratios = [x[3] for x in rs if x[3] is not None]
    txs = [x[2] for x in rs if x[2] is not None]
    cells = "; ".join(f"{x[0]}g{x[1]} {x[5]} {x[2] and int(x[2])} ({x[3] and round(x[3], 2)}x, {x[4]})" for x in rs)
    print(f"{t} {name}: median {int(statistics.median(txs))} tx/s, {statistics.median(ratios):.2f}x vmcache | {cells}")
