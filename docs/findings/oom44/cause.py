#!/usr/bin/env python3
"""Session 44 (oom44): speed40/iocause.py for oom44/cause.sh's out-of-memory runs, without the replay file, then
the data files' writes split by the checkpoints' seconds and the checkpoints told from the logs' sizes (cause.sh's
.sizes). usage: cause.py OUTPREFIX SCRIPT (iocause.py's arguments; its docs say what they are).
"""
import os
import runpy

os.environ["IOCAUSE_NO_REPLAY"] = "1"
globals().update(runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../speed40/iocause.py")))

# Session 44 (oom44) additions.
# The cuts: every punch (a log's dead records given back: the end of a checkpoint of that log) in the window.
print("\ncuts (punches) in the window: second of the run, file, MiB punched")
for x in W:
    if x[2] == "p":
        print("  %6.2f %-22s %8.1f" % (x[0] - t0, x[3], x[5] / 2**20))
# The data files' page writes by second of the run, and the data files' syncs (a checkpoint's end syncs each).
print("\ndata files' page writes (4 KiB pages), a second of the run; syncs of data files in that second")
per = collections.Counter()
syn = collections.Counter()
for x in W:
    if cls(x[3]) == "data files" and x[2] == "d":
        per[int(x[0] - t0)] += x[5] // 4096
    if cls(x[3]) == "data files" and x[2] == "s":
        syn[int(x[0] - t0)] += 1
for s in range(int(S) + 1):
    print("  %3d %8d %s" % (s, per[s], "sync x%d" % syn[s] if syn[s] else ""))
tot = sum(per.values())
print("data files' pages written in the window: %d (%.3f a tx)" % (tot, tot / (txps * S) if txps else 0))
# The logs' sizes (cause.sh's .sizes: logical length, allocated KiB), those that passed 64 MiB allocated, every
# 2 s of the poll (its own clock: seconds from the first poll, which is before the open).
if os.path.exists(pre + ".sizes"):
    polls = []
    cur = None
    for line in open(pre + ".sizes"):
        q = line.split()
        if q[0] == "T":
            cur = (float(q[1]), {})
            polls.append(cur)
        elif cur is not None and len(q) == 3:
            cur[1][q[0]] = (int(q[1]), int(q[2]) * 512)
    big = sorted({f for _, d in polls for f, (n, a) in d.items() if a > 64 << 20})
    print("\nlogs' allocated MiB (logical MiB) by poll second, those past 64 MiB: " + ", ".join(big))
    last = -9
    for t, d in polls:
        r = t - polls[0][0]
        if r - last >= 2:
            last = r
            print("  %6.1f " % r + " ".join("%7.1f (%7.1f)" % (d[f][1] / 2**20, d[f][0] / 2**20) if f in d else "-" for f in big))

# Pages a transaction by cause, in the bench's unit (4 KiB of bytes written; /proc/self/io's write_bytes counts a
# buffered write's pages as it dirties them and an O_DIRECT write's bytes, so the system calls' bytes / 4096 match
# it where the logs' writes dirty whole pages, as their 4 KiB-aligned write-outs do). The data files' pages split
# into the checkpoints' (each second's pages above the run's median second) and the rest (evictions: the median
# second's pages, every second).
ntx = txps * S
if ntx:
    secs = [per[s] for s in range(int(S))]
    med = sorted(secs)[len(secs) // 2]
    above = sum(max(0, p - med) for p in secs)
    kib = lambda pred: sum(x[5] for x in W if x[2] in "wd" and pred(x)) / 4096
    txn = kib(lambda x: cls(x[3]) == "txn log")
    trees = kib(lambda x: cls(x[3]) == "tree logs")
    stock = kib(lambda x: x[3] == "stock.wal")
    data = kib(lambda x: cls(x[3]) == "data files")
    cuts = sum(1 for x in W if x[2] == "p" and x[3] == "stock.wal")
    m2 = re.search(r"wr/tx.*\n.*\n\S+\s+\S+\s+\S+\s+\S+\s+\S+\s+\S+\s+\S+\s+(\S+)", open(pre + ".txt").read())
    print("\npages a tx (4 KiB): all %.3f = data files %.3f (checkpoints %.3f, evictions %.3f; median second %d "
          "pages) + txn log %.3f + tree logs %.3f (stock.wal %.3f); STOCK's log cut %d times; the bench's wr/tx %s"
          % ((txn + trees + data) / ntx, data / ntx, above / ntx, (data - above) / ntx, med, txn / ntx,
             trees / ntx, stock / ntx, cuts, m2.group(1) if m2 else "?"))
