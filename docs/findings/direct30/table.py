#!/usr/bin/env python3
"""direct30's pairs from pairs.sh's summary lines (any order of A and B within a call): consecutive runs of one
thread count taken two at a time as a pair; B/A per pair by the whole run's tx/s and by the steady median, the
medians and sums over sums, and the median cpu/tx of each build. Usage: table.py SUMMARY..."""
import re, statistics, sys
runs = {}
for f in sys.argv[1:]:
    for l in open(f):
        m = re.match(r't(\d) (\w+) (\S+) .*: (\d+) tx/s.*steady-median (\d+) cpu/tx ([\d.]+)us', l)
        if m:
            runs.setdefault(m.group(1), []).append((m.group(2), m.group(3), int(m.group(4)), int(m.group(5)), float(m.group(6))))
for t, rs in sorted(runs.items(), reverse=True):
    whole, steady, sa, sb = [], [], 0, 0
    for i in range(0, len(rs) - 1, 2):
        p = {r[0]: r for r in rs[i:i + 2]}
        order = rs[i][0] + rs[i + 1][0]
        whole.append((p['B'][2] / p['A'][2], order, rs[i][1]))
        steady.append(p['B'][3] / p['A'][3])
        sa += p['A'][2]; sb += p['B'][2]
    print(f"t{t} whole: " + ", ".join(f"{r:.3f} ({o} {at})" for r, o, at in whole)
          + f"; median {statistics.median(r for r, _, _ in whole):.3f}; sum/sum {sb / sa:.3f}")
    print(f"t{t} steady: " + ", ".join(f"{r:.3f}" for r in steady) + f"; median {statistics.median(steady):.3f}")
    for n in 'AB':
        print(f"t{t} {n}: tx/s {sorted(r[2] for r in rs if r[0] == n)}; cpu/tx median {statistics.median(r[4] for r in rs if r[0] == n):.1f} us")
