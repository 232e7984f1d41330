#!/usr/bin/env python3
"""perf47: cachesim.sh's events a transaction past the first N1 (the N2 run's totals minus the N1 run's, same seed).
usage: cachesim.py OUT N1 N2 NAME..."""
import sys
def ev(p):
    e = s = None
    for l in open(p):
        if l.startswith('events:'): e = l.split()[1:]
        if l.startswith('summary:'): s = [int(x) for x in l.split()[1:]]
    return dict(zip(e, s))
d, n1, n2 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for name in sys.argv[4:]:
    a, b = ev(f"{d}/{name}-n{n1}.cs"), ev(f"{d}/{name}-n{n2}.cs")
    x = {k: (b[k] - a[k]) / (n2 - n1) for k in b}
    print(f"{name}: Ir {x['Ir']:.0f}, D1 misses (read+write) {x['D1mr'] + x['D1mw']:.0f}, "
          f"LL misses (data) {x['DLmr'] + x['DLmw']:.1f}, LL misses (all) {x['ILmr'] + x['DLmr'] + x['DLmw']:.1f} a transaction")
