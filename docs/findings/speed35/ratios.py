#!/usr/bin/env python3
"""Session 35 (speed35): the pairs of a pairs.sh summary.txt, in order (runs 1-2, 3-4, ...), as X/A where A is
the run named A: whole-run tx/s, and the same for the median of each run's per-second samples from its 4th second
(its last, partial line left out, as ab26.sh). Prints each pair, then per name the median ratio and the sums' ratio.
usage: ratios.py OUT_DIR"""
import glob, os, re, statistics, sys

d = sys.argv[1]
runs = []
for line in open(os.path.join(d, "summary.txt")):
    m = re.match(r"t(\d) s(\d+) (\w+) (\S+) .*: (\d+) tx/s", line)
    if not m:
        continue
    t, s, name, start, tx = m.groups()
    smp = os.path.join(d, f"{name}-t{t}-s{s}-{start}.samples")
    vals = [l.split(",") for l in open(smp) if l[0].isdigit()]
    steady = sorted(float(v[1]) for v in vals[:-1] if float(v[0]) > 3.5)
    ck = [float(v[1]) for v in vals if float(v[3]) > 50]
    runs.append((name, start, int(tx), statistics.median(steady) if steady else 0, len(ck)))
by = {}
for i in range(0, len(runs) - 1, 2):
    a, b = runs[i], runs[i + 1]
    if a[0] == "A":
        a, b = b, a
    if b[0] != "A":
        continue
    r, rs = a[2] / b[2], a[3] / b[3]
    by.setdefault(a[0], []).append((r, rs, a[2], b[2]))
    print(f"{a[0]}/A {a[1]}/{b[1]}: {a[2]}/{b[2]} = {r:.3f}; steady {a[3]:.0f}/{b[3]:.0f} = {rs:.3f}; ckpt seconds {a[4]}/{b[4]}")
for name, rs in by.items():
    print(f"{name}/A: {len(rs)} pairs, median {statistics.median(r[0] for r in rs):.3f} (steady {statistics.median(r[1] for r in rs):.3f}), "
          f"sums {sum(r[2] for r in rs) / sum(r[3] for r in rs):.3f}, above 1: {sum(r[0] > 1 for r in rs)}")
