#!/usr/bin/env python3
# perf29: each run's per-second samples: the median rate of its seconds from 2 s on, the seconds in a checkpoint
# (syncs a second above 50 or writes a second above 2x the run's median), and the median of the others.
# usage: seconds.py DIR TAG...
import sys, re, statistics
d = sys.argv[1]
for tag in sys.argv[2:]:
    rows = [[float(x) for x in l.split(',')] for l in open(f'{d}/{tag}.samples') if re.match(r'^[0-9]', l)]
    rows = [r for r in rows if r[0] > 1.5]
    wmed = statistics.median(r[5] for r in rows)
    ck = [r for r in rows if r[3] > 50 or r[5] > 2 * wmed]
    rest = [r for r in rows if r not in ck]
    print(f'{tag:<28} all {statistics.median(r[1] for r in rows)/1e3:6.1f} K  checkpoint seconds {len(ck):2d}'
          f' ({", ".join(f"{r[0]:.0f}s {r[1]/1e3:.0f}K" for r in ck)})  others {statistics.median(r[1] for r in rest)/1e3:6.1f} K')
