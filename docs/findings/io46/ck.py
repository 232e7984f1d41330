#!/usr/bin/env python3
"""io46: checkpoint spans in a run's --tpcc-samples (a second with > 50 syncs is a checkpoint second, steady.sh's
rule; the first two and the last second left out): spans, seconds, seconds a span, rate in and between, and the
ratio. usage: ck.py SAMPLES.csv ..."""
import sys
for p in sys.argv[1:]:
    rows = [l.split(',') for l in open(p) if l[0].isdigit()]
    rows = rows[2:-1]
    ck = [float(r[3]) > 50 for r in rows]
    tx = [float(r[1]) for r in rows]
    spans = sum(1 for i, c in enumerate(ck) if c and (i == 0 or not ck[i - 1]))
    n = sum(ck)
    a = sum(t for t, c in zip(tx, ck) if c) / max(n, 1)
    b = sum(t for t, c in zip(tx, ck) if not c) / max(len(ck) - n, 1)
    w = sum(float(r[5]) for r, c in zip(rows, ck) if c)
    print(f"{p}: spans {spans} ckpt-seconds {n} ({n/max(spans,1):.2f} a span) ckpt {a:.0f} other {b:.0f} ratio {a/b:.3f} writes-in-ckpt {w:.0f}")
