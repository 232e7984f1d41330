#!/usr/bin/env python3
"""nwo48: NearHints outcomes past the first N1 transactions (hits.sh's N2 run minus its N1 run, same seed), by table:
reads without a noted leaf (none: a descent), at the right leaf (hit: one probe), answered by the noted leaf's
link (linked: two probes), at a leaf that does not reach the key (wrong: a wasted probe, or two, then the descent).
The worker's own counters (the first P48 block of a run's output). usage: hits.py DIR N1 N2"""
import re, sys
NAMES = {0: "WAREHOUSE", 1: "DISTRICT", 2: "CUSTOMER", 6: "ORDER", 9: "ITEM", 10: "STOCK"}
def read(p):
    got = {}
    for l in open(p):
        m = re.match(r'P48 (\w+) table (\d+) none (\d+) hit (\d+) linked (\d+) wrong (\d+)', l)
        if m:
            k = (m.group(1), int(m.group(2)))
            if k in got:
                break
            got[k] = tuple(int(m.group(i)) for i in (3, 4, 5, 6))
    return got
d, n1, n2 = sys.argv[1], sys.argv[2], sys.argv[3]
n = int(n2) - int(n1)
print(f"past the first {n1} of {n2} ({n} transactions): none / hit / linked / wrong, a transaction")
for s, name in (("0", "l1: every answer noted"), ("1", "l2: a linked answer not noted (the branch)")):
    a, b = read(f"{d}/hits-s{s}-n{n1}.txt"), read(f"{d}/hits-s{s}-n{n2}.txt")
    tot = [0, 0, 0, 0]
    cells = []
    for k in sorted(b):
        v = [b[k][i] - a.get(k, (0, 0, 0, 0))[i] for i in range(4)]
        tot = [x + y for x, y in zip(tot, v)]
        cells.append(f"  {k[0]} {NAMES.get(k[1], k[1])}: " + " / ".join(f"{x/n:.3f}" for x in v))
    print(f"{name}: descents {(tot[0]+tot[3])/n:.3f} a transaction (none {tot[0]/n:.3f}, wrong {tot[3]/n:.3f}), linked {tot[2]/n:.3f}, hits {tot[1]/n:.3f}, reads {sum(tot)/n:.2f}")
    print("\n".join(cells))
