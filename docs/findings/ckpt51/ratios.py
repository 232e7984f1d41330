#!/usr/bin/env python3
"""Session 51 (ckpt51): pairs.sh's calls, B over M by call (whole run and steady median), checkpoint seconds, medians.

usage: ratios.py PAIRS_DIR T
"""
import glob
import re
import statistics
import sys

d, t = sys.argv[1], sys.argv[2]
rows = []
for f in sorted(glob.glob(f"{d}/t{t}-c*/summary.txt"), key=lambda p: int(re.search(r'-c(\d+)/', p).group(1))):
    runs = {}
    order = []
    for line in open(f):
        m = re.search(r' (\w+) start ([0-9.]+) threads=\d+ pool-fraction=8: (\d+) tx/s, consistent: (\w+) steady-median (\d+) '
                      r'ckpt-seconds\(n,mean\) (\d+) (\S+) other-median (\d+)', line)
        if m:
            name = m.group(1)
            order.append(name)
            runs[name] = dict(run=int(m.group(3)), ok=m.group(4), steady=int(m.group(5)), ck=int(m.group(6)),
                              ckmean=m.group(7), other=int(m.group(8)))
    if 'M' in runs and 'B' in runs:
        rows.append((f.split('/')[-2], '-'.join(order), runs['M'], runs['B']))
print(f"| call | order | M run / steady | B run / steady | B / M run | B / M steady | checkpoint seconds M / B (mean tx/s) | other seconds' median M / B |")
print("|---|---|---:|---:|---:|---:|---|---|")
rr, rs = [], []
for c, o, m, b in rows:
    r, s = b['run'] / m['run'], b['steady'] / m['steady']
    rr.append(r); rs.append(s)
    print(f"| {c} | {o} | {m['run']:,} / {m['steady']:,} | {b['run']:,} / {b['steady']:,} | {r:.3f} | {s:.3f} | "
          f"{m['ck']} ({m['ckmean']}) / {b['ck']} ({b['ckmean']}) | {m['other']:,} / {b['other']:,} |")
if rr:
    print(f"median of the ratios: run {statistics.median(rr):.3f}, steady {statistics.median(rs):.3f} ({len(rr)} pairs); "
          f"all consistent: {all(m['ok'] == 'true' and b['ok'] == 'true' for _, _, m, b in rows)}")
