#!/usr/bin/env python3
"""Session 36 (speed36): the machine's state each second beside a sitting, for the protocol question.

usage: mon.py OUT.csv PIDFILE
One line a second until killed: wall time (epoch s), the page cache's Dirty and Writeback (KiB, /proc/meminfo),
the whole machine's CPU in that second by kind (user, system, iowait, steal, idle; jiffies over all cores,
/proc/stat: 200 a second is both cores busy), the CPU in that second of the kernel threads named kworker* (the
page cache's writeback among them), kdamond* (this VM's DAMON pageout of cold page cache), jbd2* and kswapd*,
and, when PIDFILE names a live process (the bench or vmcache under measurement), that process's CPU in that
second by thread (utime+stime jiffies, `tid:comm:n` separated by spaces, threads with 0 left out). Reads
/proc's stat files once a second: its own cost is a few ms a second.
"""
import os
import sys
import time


def meminfo():
    d = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            if k in ("Dirty", "Writeback"):
                d[k] = int(v.split()[0])
    return d["Dirty"], d["Writeback"]


def cpu():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal
    return (v[0] + v[1], v[2] + v[5] + v[6], v[4], v[7], v[3])


def threads(pid):
    out = {}
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    s = f.read()
            except OSError:
                continue
            comm = s[s.index("(") + 1 : s.rindex(")")].replace(" ", "_").replace(":", "_")
            rest = s[s.rindex(")") + 2 :].split()
            out[tid] = (comm, int(rest[11]) + int(rest[12]))
    except OSError:
        pass
    return out


KTHREADS = ("kworker", "kdamond", "jbd2", "kswapd")


def kthreads():
    """CPU jiffies so far of the kernel threads named in KTHREADS, by name prefix."""
    out = dict.fromkeys(KTHREADS, 0)
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                s = f.read()
        except OSError:
            continue
        comm = s[s.index("(") + 1 : s.rindex(")")]
        for k in KTHREADS:
            if comm.startswith(k):
                rest = s[s.rindex(")") + 2 :].split()
                out[k] += int(rest[11]) + int(rest[12])
    return out


def main():
    out, pidfile = sys.argv[1], sys.argv[2]
    f = open(out, "a", buffering=1)
    f.write("epoch,dirty_kib,writeback_kib,user,sys,iowait,steal,idle," + ",".join(KTHREADS) + ",pid,threads\n")
    prev_cpu = cpu()
    prev_k = kthreads()
    prev_thr = {}
    prev_pid = None
    nxt = time.time() + 1
    while True:
        time.sleep(max(0.0, nxt - time.time()))
        nxt += 1
        try:
            with open(pidfile) as p:
                pid = p.read().strip()
        except OSError:
            pid = ""
        c = cpu()
        dc = [a - b for a, b in zip(c, prev_cpu)]
        prev_cpu = c
        thr = threads(pid) if pid else {}
        parts = []
        if pid == prev_pid:
            for tid, (comm, t) in sorted(thr.items(), key=lambda x: int(x[0])):
                d = t - prev_thr.get(tid, (comm, 0))[1]
                if d:
                    parts.append(f"{tid}:{comm}:{d}")
        prev_thr, prev_pid = thr, pid
        k = kthreads()
        dk = ",".join(str(k[n] - prev_k.get(n, 0)) for n in KTHREADS)
        prev_k = k
        dirty, wb = meminfo()
        f.write(f"{time.time():.1f},{dirty},{wb},{dc[0]},{dc[1]},{dc[2]},{dc[3]},{dc[4]},{dk},{pid},{' '.join(parts)}\n")


main()
