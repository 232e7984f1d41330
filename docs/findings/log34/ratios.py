#!/usr/bin/env python3
"""log34: B/A ratios of alternating pairs from pairs.sh's summary.txt: lines of one thread count and run length, in
order, taken two at a time (A B, B A, ...); each ratio, and their median. usage: ratios.py OUT/summary.txt [B]
(B: the name of the build against A, B by default)"""
import sys, re, statistics, collections
NB = sys.argv[2] if len(sys.argv) > 2 else 'B'
groups = collections.OrderedDict()
for l in open(sys.argv[1]):
    m = re.match(r't(\d) s(\d+) (\w+) (\S+) .*: (\d+) tx/s, consistent: (\w+)', l)
    if m: groups.setdefault((m[1], m[2]), []).append((m[3], m[4], int(m[5]), m[6]))
for (t, s), runs in groups.items():
    if not any({r[0] for r in p} == {"A", NB} for p in zip(runs[0::2], runs[1::2])): continue
    ratios = []
    for a, b in zip(runs[0::2], runs[1::2]):
        d = {a[0]: a, b[0]: b}
        if set(d) != {'A', NB}: continue
        ratios.append((d[NB][2] / d['A'][2], d['A'], d[NB]))
    print(f'{t} thread(s), {s} s runs: {len(ratios)} pairs, median {NB}/A {statistics.median(r[0] for r in ratios):.3f}; '
          f'A median {statistics.median(r[1][2] for r in ratios)/1e3:.1f} K, {NB} median {statistics.median(r[2][2] for r in ratios)/1e3:.1f} K')
    for r, a, b in ratios:
        print(f'   A {a[1]} {a[2]/1e3:6.1f} K   {NB} {b[1]} {b[2]/1e3:6.1f} K   {NB}/A {r:.3f}  consistent {a[3]}/{b[3]}')
