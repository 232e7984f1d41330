#!/usr/bin/env python3
"""apply27's pairs from pairs.sh's summary.txt: each call ran A B B A, so pair 1 is AB and pair 2 BA; B/A per pair,
the median and sum over sum per thread count."""
import re, statistics, sys
runs = {}
for l in open(sys.argv[1]):
    m = re.match(r't(\d) (\w+) (\S+) .*: (\d+) tx/s', l)
    if m:
        runs.setdefault(m.group(1), []).append((m.group(2), m.group(3), int(m.group(4))))
for t, rs in sorted(runs.items(), reverse=True):
    ratios, sa, sb = [], 0, 0
    for c in range(0, len(rs), 4):
        (a1, ta1, x1), (b1, _, y1), (b2, _, y2), (a2, _, x2) = rs[c:c + 4]
        ratios += [(y1 / x1, 'AB', ta1), (y2 / x2, 'BA', ta1)]
        sa += x1 + x2; sb += y1 + y2
    print(f"t{t}: " + ", ".join(f"{r:.3f} ({o})" for r, o, _ in ratios)
          + f"; median {statistics.median(r for r, _, _ in ratios):.3f}; sum/sum {sb / sa:.3f}"
          + f"; A {sorted(x for n, _, x in rs if n == 'A')}; B {sorted(x for n, _, x in rs if n == 'B')}")
