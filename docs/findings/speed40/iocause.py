#!/usr/bin/env python3
"""Session 40 (speed40): iocause.sh's run split by cause, and the trace that replay.c plays back.

usage: iocause.py OUTPREFIX SCRIPT
OUTPREFIX is iocause.sh's OUT/TAG-tT (its .inodes, .fds.*, .diskstats, .samples.csv, .txt beside it); SCRIPT is
`perf script -F tid,time,event,trace` of its perf data. Prints, a second of the run (the bench's measured seconds;
the perf session also holds the open and the consistency check, which are left out by time: only events between
the first and the last sample line count), per cause (the transaction log `txn.log`, the trees' logs `*.wal`, the
data files `*.db`, their `.bpmeta`): write requests, bytes, the requests' sizes (median, p90, max), syncs, punches;
then the device's requests (block_rq_issue: writes, flushes, discards, bytes) and /proc/diskstats' deltas over the
whole process, and who issued each (thread ids). Writes SCRIPT without its extension + .replay (beside the perf data: too big for the repository): one line an operation inside the
measured seconds, `t_rel tid op file offset length` (op: w = buffered pwrite, d = O_DIRECT write, s = fdatasync,
p = punch), for replay.c.
"""
import collections
import os
import re
import statistics
import sys

pre, script = sys.argv[1], sys.argv[2]
ino2f = {}
for line in open(pre + ".inodes"):
    i, n = line.split()
    ino2f[int(i)] = n.rsplit("/", 1)[1]
fd2f = {}
sfd = None
import glob
for fn in sorted(glob.glob(pre + ".fds.*")):  # later snapshots win: the run's own table
    for line in open(fn):
        q = line.split()
        if len(q) == 2 and q[0].isdigit() and "/bufpool-btree/" in q[1]:
            fd2f[int(q[0])] = q[1].rsplit("/", 1)[1]
        if len(q) == 2 and q[1].endswith(".samples.csv"):
            sfd = int(q[0])

# The measured seconds: the samples file's first and last line, in the bench's clock; the perf times are
# CLOCK_MONOTONIC-ish. Align by the first pwrite burst is fragile; instead take the run's window from the bench:
# its measured span is S seconds ending when the consistency check starts. We use the events themselves: the
# window is the S seconds ending at the last worker-thread log write (the check writes nothing).
samples = [l for l in open(pre + ".samples.csv") if l[0].isdigit()]
S = float(samples[-1].split(",")[0])
m = re.search(r"threads=\d+ pool-fraction=[0-9.]+: (\d+) tx/s", open(pre + ".txt").read() + open(pre + ".err").read())
txps = int(m.group(1)) if m else 0


def cls(f):
    if f is None:
        return "?"
    if f == "txn.log":
        return "txn log"
    if f.endswith(".wal"):
        return "tree logs"
    if f.endswith(".bpmeta"):
        return "bpmeta"
    if f.endswith(".db"):
        return "data files"
    return f


ev = []  # (t, tid, op, file, off, len, extra)
blk = []  # (t, tid, rwbs, bytes)
rx = re.compile(r"\s*(\d+)\s+([\d.]+):\s+(\S+):\s*(.*)")
h = lambda s: int(s, 16)
for line in open(script):
    mm = rx.match(line)
    if not mm:
        continue
    tid, t, e, rest = int(mm.group(1)), float(mm.group(2)), mm.group(3), mm.group(4)
    if e == "syscalls:sys_enter_pwrite64" or e == "syscalls:sys_enter_write" or e == "syscalls:sys_enter_pwritev":
        kv = dict(re.findall(r"(\w+): (0x[0-9a-f]+)", rest))
        fd = h(kv["fd"])
        if e == "syscalls:sys_enter_write" and fd == sfd:
            ev.append((t, tid, "L", "samples", 0, 0, e))
            continue
        if fd not in fd2f:
            continue
        n = h(kv.get("count", kv.get("vlen", "0x0")))
        ev.append((t, tid, "w", fd2f[fd], h(kv.get("pos", "0x0")), n, e))
    elif e == "syscalls:sys_enter_fallocate":
        kv = dict(re.findall(r"(\w+): (0x[0-9a-f]+)", rest))
        fd = h(kv["fd"])
        if fd in fd2f:
            ev.append((t, tid, "p", fd2f[fd], h(kv["offset"]), h(kv["len"]), h(kv["mode"])))
    elif e == "syscalls:sys_enter_fdatasync" or e == "syscalls:sys_enter_fsync":
        kv = dict(re.findall(r"(\w+): (0x[0-9a-f]+)", rest))
        fd = h(kv["fd"])
        ev.append((t, tid, "S", fd2f.get(fd, "fd%d" % fd), 0, 0, e))
    elif e == "ext4:ext4_sync_file_enter":
        ino = int(re.search(r"ino (\d+)", rest).group(1))
        if ino in ino2f:
            ev.append((t, tid, "s", ino2f[ino], 0, 0, e))
    elif e == "iomap:iomap_dio_rw_begin":
        ino = int(re.search(r"ino 0x([0-9a-f]+)", rest).group(1), 16)
        if ino in ino2f and "WRITE" in rest:
            off = h(re.search(r"offset (0x[0-9a-f]+)", rest).group(1))
            n = h(re.search(r"length (0x[0-9a-f]+)", rest).group(1))
            ev.append((t, tid, "d", ino2f[ino], off, n, "NOWAIT" in rest))
    elif e == "block:block_rq_issue":
        b = re.match(r"(\d+),(\d+) (\S+) (\d+) \(.*?\) (\d+) \+ (\d+)", rest)
        if b and b.group(1) == "254":
            blk.append((t, tid, b.group(3), int(b.group(4)), int(b.group(6)) * 512))

# An io_uring write first tried NOWAIT and punted to io-wq shows twice: drop a NOWAIT begin followed by the same
# write (file, offset, length) from another thread.
ev.sort()
last = {}
drop = set()
for k, x in enumerate(ev):
    if x[2] == "d":
        key = (x[3], x[4], x[5])
        if key in last and ev[last[key]][6] and x[0] - ev[last[key]][0] < 0.5:
            drop.add(last[key])
        last[key] = k
ev = [x for k, x in enumerate(ev) if k not in drop]

# The measured window: the S seconds (the last sample line's time) up to the driver's write of that line.
t1 = max(x[0] for x in ev if x[2] == "L")
t0 = t1 - S
W = [x for x in ev if t0 <= x[0] <= t1]
B = [x for x in blk if t0 <= x[0] <= t1]
print("window: %.1f s (perf time %.3f-%.3f), run %d tx/s, %d NOWAIT duplicates dropped" % (S, t0, t1, txps, len(drop)))

print("\n| cause, a second | write requests | KiB written | request size median / p90 / max (B) | syncs (fdatasync + data-file syncs) | punches | writes a tx |")
print("|---|---:|---:|---|---:|---:|---:|")
for c in ("txn log", "tree logs", "data files", "bpmeta"):
    ws = [x for x in W if cls(x[3]) == c and x[2] in "wd"]
    ss = [x for x in W if cls(x[3]) == c and x[2] == "s"]
    ps = [x for x in W if cls(x[3]) == c and x[2] == "p"]
    sz = sorted(x[5] for x in ws)
    q = lambda p: sz[min(len(sz) - 1, int(p * len(sz)))] if sz else 0
    kind = "O_DIRECT" if any(x[2] == "d" for x in ws) else "buffered"
    print("| %s (%s) | %.0f | %.0f | %d / %d / %d | %.1f | %.1f | %.3f |" % (
        c, kind, len(ws) / S, sum(sz) / 1024 / S, q(0.5), q(0.9), q(1.0) if sz else 0, len(ss) / S, len(ps) / S,
        len(ws) / S / txps if txps else 0))
ws = [x for x in W if x[2] in "wd"]
print("| all | %.0f | %.0f | | %.1f | %.1f | %.3f |" % (len(ws) / S, sum(x[5] for x in ws) / 1024 / S,
      len([x for x in W if x[2] == "s"]) / S, len([x for x in W if x[2] == "p"]) / S, len(ws) / S / txps if txps else 0))

print("\nper tree log, a second: writes, KiB, syncs")
for f in sorted({x[3] for x in W}):
    ws = [x for x in W if x[3] == f and x[2] in "wd"]
    print("  %-22s %8.0f %8.0f %6.1f" % (f, len(ws) / S, sum(x[5] for x in ws) / 1024 / S,
                                          len([x for x in W if x[3] == f and x[2] == "s"]) / S))

print("\nthe device (block_rq_issue, vda), a second: by rwbs: requests, KiB")
c = collections.Counter()
by = collections.Counter()
for x in B:
    c[x[2]] += 1
    by[x[2]] += x[4]
for k in sorted(c):
    print("  %-6s %8.1f %9.0f" % (k, c[k] / S, by[k] / 1024 / S))
print("  all    %8.1f %9.0f" % (len(B) / S, sum(x[4] for x in B) / 1024 / S))

d = open(pre + ".diskstats").read().split("\n")
a, ta, b, tb = d[0].split(), float(d[1]), d[2].split(), float(d[3])
dt = tb - ta
f = lambda i: int(b[i]) - int(a[i])
print("\n/proc/diskstats vda over the whole process (%.1f s, load and check included): writes %d (%.0f/s), "
      "merged %d, KiB %.0f (%.0f/s), write ms %d, discards %d, discard KiB %.0f, flushes %d (%.1f/s), "
      "io ms %d" % (dt, f(7), f(7) / dt, f(8), f(9) / 2, f(9) / 2 / dt, f(10), f(14), f(16) / 2, f(18), f(18) / dt, f(12)))

print("\nwho issues them (thread: op counts in the window)")
who = collections.defaultdict(collections.Counter)
for x in W:
    who[x[1]][x[2] + ":" + cls(x[3])] += 1
for tid in sorted(who, key=lambda k: -sum(who[k].values())):
    print("  %d: %s" % (tid, ", ".join("%s=%d" % kv for kv in who[tid].most_common())))

# oom44/cause.py runs this script first and writes no replay file (IOCAUSE_NO_REPLAY=1).
if not os.environ.get("IOCAUSE_NO_REPLAY"):
    with open(script.rsplit(".", 1)[0] + ".replay", "w") as o:
        for x in W:
            if x[2] in "SL":
                continue  # the sync itself is ext4_sync_file_enter's line
            o.write("%.6f %d %s %s %d %d\n" % (x[0] - t0, x[1], x[2], x[3], x[4], x[5]))
