#!/usr/bin/env python3
"""perf47: NearHints outcomes past the first N1 transactions (hits.sh's N2 run minus its N1 run, same seed: the
first N1 are the same draws), by table: reads without a remembered leaf (none), with the right leaf (hit), with a
leaf that no longer covers the key (wrong: one wasted probe, then the descent). The worker's own counters (the
first P47 block of a run's output; the second is printed after the end's check).
usage: hits.py DIR N1 N2 L..."""
import os, re, sys
NAMES = {0: "WAREHOUSE", 1: "DISTRICT", 2: "CUSTOMER", 6: "ORDER", 9: "ITEM", 10: "STOCK"}
def read(p):
    got = {}
    for l in open(p):
        m = re.match(r'P47 (\w+) table (\d+) none (\d+) hit (\d+) wrong (\d+)', l)
        if m:
            k = (m.group(1), int(m.group(2)))
            if k in got:
                break
            got[k] = tuple(int(m.group(i)) for i in (3, 4, 5))
    return got
d, n1, n2 = sys.argv[1], sys.argv[2], sys.argv[3]
T = os.environ.get("P47_TAG", "")
print(f"past the first {n1} of {n2}: none / hit / wrong (descents = none + wrong)")
for L in sys.argv[4:]:
    try:
        a, b = read(f"{d}/hits{T}-L{L}-n{n1}.txt"), read(f"{d}/hits{T}-L{L}-n{n2}.txt")
    except FileNotFoundError:
        continue
    tot = [0, 0, 0]
    cells = []
    for k in sorted(b):
        v = [b[k][i] - a.get(k, (0, 0, 0))[i] for i in range(3)]
        tot = [x + y for x, y in zip(tot, v)]
        s = sum(v)
        cells.append(f"{k[0]} {NAMES.get(k[1], k[1])}: {v[0]}/{v[1]}/{v[2]} (hit {v[1]/s:.3f})")
    n = int(n2) - int(n1)
    print(f"2^{L} slots: descents {tot[0]+tot[2]} of {sum(tot)} reads ({(tot[0]+tot[2])/n:.2f} a transaction, wrong leaves {tot[2]/n:.2f}); " + "; ".join(cells))
