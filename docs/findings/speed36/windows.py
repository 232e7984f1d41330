#!/usr/bin/env python3
"""Session 36 (speed36): steady.sh's runs by 5 s windows, with mon.py's machine state, and the pair ratios.

usage: windows.py OUT [T]
For each run in OUT/summary.txt (thread count T, default every one): its per-second tx/s in 5 s windows (mean, K),
and for the same windows, from OUT/mon-tT.csv, the other processes' and the kernel's CPU beside the measured
process (machine user+system jiffies less the process's own, a second: 100 = one core), the kworker threads'
part of it, and the page cache's Dirty (MiB) at the window's end. Then, by round (one vmcache run and one of
ours, same mode), ours over vmcache: whole run (ours: the bench's tx/s; vmcache: the mean of its 60 samples) and
steady (the medians steady.sh reports). A vmcache run's seconds are its stamped sample lines; ours begin when
a thread the process did not have at its first mon.py second first runs (`ours_start`), a second's alignment at
best.
"""
import collections
import re
import statistics
import sys


def load_mon(path):
    rows = []
    with open(path) as f:
        head = f.readline().strip().split(",")
        for line in f:
            v = line.rstrip("\n").split(",")
            d = dict(zip(head, v))
            thr = {}
            if d.get("threads"):
                for p in d["threads"].split(" "):
                    tid, comm, n = p.split(":")
                    thr[tid] = (comm, int(n))
            d["thr"] = thr
            rows.append(d)
    return rows


def mon_at(mon, epoch):
    """The mon.py line covering the second that ends at `epoch` (the nearest)."""
    return min(mon, key=lambda d: abs(float(d["epoch"]) - epoch))


def ours_start(mon, pid):
    """When our measured run began: the first second in which one of the run's threads ran (the workers, spawned
    for the run, wait at a barrier until the open is done: their first CPU, not their appearance, marks the
    start), less the part of that second it ran. The run's threads: unnamed ones (not `bufpool-*` nor
    `iou-wrk-*`) spawned after the pool's own named threads (mon.py lists only threads that ran that second)."""
    lines = [d for d in mon if d["pid"] == pid]
    if not lines:
        return None
    named = [int(t) for d in lines for t, (c, _) in d["thr"].items() if c.startswith("bufpool-")]
    floor = max(named + [int(pid)])
    for d in lines:
        new = [n for t, (c, n) in d["thr"].items() if int(t) > floor and not c.startswith(("bufpool-", "iou-wrk"))]
        if new and max(new) > 0:
            return float(d["epoch"]) - min(100, max(new)) / 100.0
    return None


def main():
    out = sys.argv[1]
    only = sys.argv[2] if len(sys.argv) > 2 else None
    runs = []
    with open(f"{out}/summary.txt") as f:
        for line in f:
            m = re.match(r"r(\d+) m(\d) t(\d) s(\d+) (\S+) start (\S+)", line)
            if not m or (only and m.group(3) != only):
                continue
            r, mode, t, s, name, start = m.groups()
            d = dict(r=int(r), m=mode, t=t, name=name, start=float(start), line=line)
            sm = re.search(r"steady-median (\d+)", line)
            d["steady"] = float(sm.group(1)) if sm else float("nan")
            base = f"{out}/{'vmc' if name == 'vmcache' else name}-r{r}-m{mode}-t{t}"
            if name == "vmcache":
                tx, ep = [], []
                for l in open(base + ".csv"):
                    e, rest = l.split(" ", 1)
                    c = rest.split(",")
                    if c[0].isdigit():
                        tx.append(int(c[1]))
                        ep.append(float(e))
                d["tx"], d["ep"] = tx, ep
                d["run"] = statistics.mean(tx)
            else:
                tx = [int(l.split(",")[1]) for l in open(base + ".samples.csv") if l[0].isdigit()]
                d["tx"] = tx
                d["run"] = float(re.search(r": (\d+) tx/s", line).group(1))
                d["pidfile"] = base
            runs.append(d)
    mons = {}
    for d in runs:
        t = d["t"]
        if t not in mons:
            mons[t] = load_mon(f"{out}/mon-t{t}.csv")
        mon = mons[t]
        if d["name"] == "vmcache":
            eps = d["ep"]
            pid = mon_at(mon, eps[0])["pid"]
        else:
            # the pid: the mon.py lines after the run's start that name a process
            cand = [x for x in mon if float(x["epoch"]) > d["start"] + 0.5 and x["pid"]]
            pid = cand[0]["pid"] if cand else ""
            s0 = ours_start(mon, pid)
            eps = [s0 + i + 1 for i in range(len(d["tx"]))] if s0 else []
        print(f"\n{d['name']} r{d['r']} m{d['m']} t{d['t']}: run {d['run']:.0f} steady {d['steady']:.0f}")
        print("  window(s)   K tx/s   others' CPU (kworker)   Dirty MiB   process CPU")
        for w in range(0, len(d["tx"]), 5):
            seg = d["tx"][w : w + 5]
            k = statistics.mean(seg) / 1000
            if eps:
                ms = [mon_at(mon, e) for e in eps[w : w + 5]]
                own = [sum(n for _, n in x["thr"].values()) if x["pid"] == pid else 0 for x in ms]
                busy = [int(x["user"]) + int(x["sys"]) for x in ms]
                others = statistics.mean(b - o for b, o in zip(busy, own))
                kw = statistics.mean(int(x.get("kworker") or 0) for x in ms)
                dirty = int(ms[-1]["dirty_kib"]) / 1024
                print(f"  {w:3d}-{w + len(seg):<3d}   {k:6.1f}   {others:6.1f} ({kw:5.1f})   {dirty:9.0f}   {statistics.mean(own):6.1f}")
            else:
                print(f"  {w:3d}-{w + len(seg):<3d}   {k:6.1f}")
    print("\npairs (ours / vmcache, same round and mode): run, steady")
    by = collections.defaultdict(dict)
    for d in runs:
        by[(d["t"], d["r"], d["m"])][d["name"]] = d
    for (t, r, m), p in sorted(by.items()):
        v = p.get("vmcache")
        for name, o in p.items():
            if name == "vmcache" or not v:
                continue
            print(f"  t{t} r{r} m{m} {name}: {o['run'] / v['run']:.3f}  {o['steady'] / v['steady']:.3f}"
                  f"   (ours {o['run']:.0f} / {o['steady']:.0f}, vmcache {v['run']:.0f} / {v['steady']:.0f})")


if __name__ == "__main__":
    main()
