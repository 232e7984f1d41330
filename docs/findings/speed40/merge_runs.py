#!/usr/bin/env python3
"""Session 40 (speed40): a replay trace (iocause.py's) with the data files' O_DIRECT page writes merged as a pool
with a larger RUN_PAGES_MAX would have issued them: a write contiguous with the previous one to the same file
(whatever thread issued either) within GAP seconds joins it, up to MAX bytes; the merged write keeps the first
one's time and thread. The same bytes in fewer, larger requests: what the request count costs on its own.
usage: merge_runs.py TRACE MAX GAP > OUT"""
import sys

ops = [l.split() for l in open(sys.argv[1])]
mx, gap = int(sys.argv[2]), float(sys.argv[3])
ops.sort(key=lambda o: float(o[0]))
out, open_run = [], {}


def emit(f):
    r = open_run.pop(f, None)
    if r:
        out.append(r)


for o in ops:
    t, tid, op, f, off, n = float(o[0]), o[1], o[2], o[3], int(o[4]), int(o[5])
    if op == "d":
        r = open_run.get(f)
        if r and r[4] + r[5] == off and r[5] + n <= mx and t - r[6] <= gap:
            r[5] += n
            r[6] = t
            continue
        emit(f)
        open_run[f] = [t, tid, op, f, off, n, t]
    else:
        emit(f)
        out.append([t, tid, op, f, off, n, t])
for f in list(open_run):
    emit(f)
out.sort(key=lambda r: r[0])
for r in out:
    print("%.6f %s %s %s %d %d" % tuple(r[:6]))
