#!/usr/bin/env python3
# dip.py SAMPLES...: per run, tx/s overall, the checkpoint windows (a line spanning > 1.8 s: the driver's tick was
# inside a checkpoint; or page writes/s > 2x the run's median: a checkpoint's burst), their rate, the median rate
# of the other lines (the first 2 s left out: the open's writes), and the transactions lost to the windows.
import sys, statistics
for f in sys.argv[1:]:
    rows = []; prev = 0.0
    for l in open(f):
        if l[0] in '#s': continue
        t, tx, _, sy, _, wr = l.strip().split(',')
        t = float(t); rows.append((prev, t, float(tx), float(wr))); prev = t
    mw = statistics.median(r[3] for r in rows)
    win = [r for r in rows if r[0] >= 2 and (r[1] - r[0] > 1.8 or r[3] > 2 * mw)]
    out = [r for r in rows if r[0] >= 2 and r not in win]
    med = statistics.median(r[2] for r in out)
    total = sum(r[2] * (r[1] - r[0]) for r in rows) / rows[-1][1]
    wt = sum(r[1] - r[0] for r in win); wtx = sum(r[2] * (r[1] - r[0]) for r in win)
    lost = sum((med - r[2]) * (r[1] - r[0]) for r in win)
    print(f'{f.split("/")[-1]:14s} overall {total/1e3:5.1f}K  outside median {med/1e3:5.1f}K  windows {wt:4.1f}s at {wtx/max(wt,1e-9)/1e3:5.1f}K  lost {lost/1e3:5.0f}K tx = {lost/(total*rows[-1][1])*100:4.1f}% of the run')
