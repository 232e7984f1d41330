#!/usr/bin/env python3
"""log34: where in a 12 s 2-thread run a build gains on A, by each pair's per-second samples (pairs as ratios.py
takes them from OUT/summary.txt): each run's median rate over seconds 2-4 (before the first checkpoint), over its
checkpoint's seconds (syncs a second above 50, from 2 s on) and over the other seconds from 5 s on (the last
second, the close's, left out); then each phase's ratio NAME/A per pair and the median over pairs.
usage: dip.py OUT [NAME]   (NAME: B by default)"""
import sys, re, statistics
out = sys.argv[1]; NB = sys.argv[2] if len(sys.argv) > 2 else 'B'
runs = []
for l in open(f'{out}/summary.txt'):
    m = re.match(r't2 s12 (\w+) (\S+) ', l)
    if m: runs.append((m[1], m[2]))
def phases(name, at):
    rows = [[float(x) for x in l.split(',')] for l in open(f'{out}/{name}-t2-s12-{at}.samples') if re.match(r'^[0-9]', l)][:-1]
    med = lambda xs: statistics.median(xs) if xs else float('nan')
    return (med([r[1] for r in rows if 1.5 < r[0] < 4.5]), med([r[1] for r in rows if r[0] > 1.5 and r[3] > 50]),
            med([r[1] for r in rows if r[0] > 4.5 and r[3] <= 50]))
ratios = []
for a, b in zip(runs[0::2], runs[1::2]):
    d = {a[0]: a[1], b[0]: b[1]}
    if set(d) != {'A', NB}: continue
    pa, pb = phases('A', d['A']), phases(NB, d[NB])
    ratios.append([y / x for x, y in zip(pa, pb)])
    print(f'  A {d["A"]} {NB} {d[NB]}: ' + ', '.join(f'{x/1e3:.0f}->{y/1e3:.0f} K' for x, y in zip(pa, pb)))
names = ['seconds 2-4', 'checkpoint seconds', 'other seconds']
print(f'{NB}/A over {len(ratios)} pairs, medians: ' + ', '.join(
    f'{n} {statistics.median(r[i] for r in ratios if r[i] == r[i]):.3f}' for i, n in enumerate(names)))
