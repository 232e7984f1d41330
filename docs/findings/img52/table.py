#!/usr/bin/env python3
"""Session 52 (img52): the pairs of steady.sh sittings (B, N) as a table: each run's tx/s, its checkpoint seconds
(count / mean tx/s) and the median of its other seconds (steady.sh's summary), the share of the run's rate below its
other seconds' median (1 - run / other: what the checkpoints and the open's first seconds took), and N / B of each
round. usage: table.py SUMMARY.txt ..."""
import re
import statistics
import sys

pat = re.compile(r"r(\d+) m\d t(\d) s\d+ (\S+) start \S+ .*?: (\d+) tx/s, consistent: (\w+) steady-median (\d+) "
                 r"ckpt-seconds\(n,mean\) (\d+) (\S+) other-median (\d+)")
ratios = {}
for path in sys.argv[1:]:
    runs = {}
    for line in open(path):
        m = pat.search(line)
        if m:
            r, t, name, tx, ok, med, n, mean, other = m.groups()
            runs[(r, name)] = (int(tx), ok, int(n), mean, int(other))
    for r in sorted({k[0] for k in runs}, key=int):
        b, n = runs.get((r, "B")), runs.get((r, "N"))
        if not b or not n:
            continue
        cells = []
        for x in (b, n):
            cells.append(f"{x[0]:,} / {x[2]} x {x[3]} / {x[4]:,} / {1 - x[0] / x[4]:.3f}" + ("" if x[1] == "true" else " INCONSISTENT"))
        ratio = n[0] / b[0]
        ratios.setdefault(t, []).append(ratio)
        print(f"| {path.split('/')[-2]} r{r} t{t} | {cells[0]} | {cells[1]} | {ratio:.3f} | {n[4] / b[4]:.3f} |")
for t, rs in ratios.items():
    print(f"t{t}: N/B median {statistics.median(rs):.3f} over {len(rs)} pairs ({min(rs):.3f}-{max(rs):.3f})")
