#!/usr/bin/env python3
"""Session 51 (ckpt51): a `perf script -F tid,time,ip,sym,dso` dump of prof.sh's run, split by thread and by second.

usage: threads.py SCRIPT.txt [TID ...]
Prints each thread's samples (and CPU-s at the run's rate), its samples per second of the run (to find the
checkpoints' seconds: the checkpointing thread's busy seconds), and, for each TID named, its top leaf symbols.
"""
import collections
import sys

rows = []
for line in open(sys.argv[1]):
    p = line.split(None, 3)
    if len(p) < 4:
        continue
    tid, t = p[0], float(p[1].rstrip(':'))
    sym = p[3].rsplit(' (', 1)[0].strip()
    rows.append((tid, t, sym))
t0 = min(r[1] for r in rows)
t1 = max(r[1] for r in rows)
hz = len(rows) / (t1 - t0) / 2  # both CPUs busy most of the run: samples a second a CPU, about perf's -F
by = collections.Counter(r[0] for r in rows)
print(f"{len(rows)} samples over {t1 - t0:.1f} s")
for tid, n in by.most_common():
    print(f"tid {tid}: {n} samples")
sec = collections.defaultdict(collections.Counter)
for tid, t, _ in rows:
    sec[int(t - t0)][tid] += 1
tids = [tid for tid, _ in by.most_common(6)]
print("second " + " ".join(tids))
for s in sorted(sec):
    print(f"{s:6d} " + " ".join(f"{sec[s][t]:5d}" for t in tids))
for tid in sys.argv[2:]:
    c = collections.Counter(sym for t, _, sym in rows if t == tid)
    n = sum(c.values())
    print(f"== tid {tid}: {n} samples")
    for sym, k in c.most_common(45):
        print(f"{k:6d} {100 * k / n:5.1f}% {sym[:110]}")
