#!/usr/bin/env python3
"""Session 36 (speed36): what our checkpoint seconds cost in CPU, by thread, from steady.sh's runs.

usage: ckpt_cpu.py OUT [T]
For each of our runs in OUT/summary.txt: its seconds split into checkpoint seconds (more than 50 syncs, as
steady.sh) and the others (from the 4th second, the last left out), and for each, the mean CPU a second
(jiffies: 100 = one core, mon.py) of each of the process's threads (by tid, with its name: the workers and the
driver's threads are all named `bufpool`, told apart by what they do), of the other processes and the kernel
(machine less the process), of the kworker threads among them, and the tx/s.
"""
import collections
import re
import statistics
import sys

from windows import load_mon, mon_at, ours_start


def main():
    out = sys.argv[1]
    only = sys.argv[2] if len(sys.argv) > 2 else None
    mons = {}
    for line in open(f"{out}/summary.txt"):
        m = re.match(r"r(\d+) m(\d) t(\d) s(\d+) (\S+) start (\S+)", line)
        if not m or m.group(5) == "vmcache" or (only and m.group(3) != only):
            continue
        r, mode, t, s, name, start = m.groups()
        mon = mons.setdefault(t, load_mon(f"{out}/mon-t{t}.csv"))
        rows = [l.split(",") for l in open(f"{out}/{name}-r{r}-m{mode}-t{t}.samples.csv") if l[0].isdigit()]
        cand = [x for x in mon if float(x["epoch"]) > float(start) + 0.5 and x["pid"]]
        if not cand:
            continue
        pid = cand[0]["pid"]
        s0 = ours_start(mon, pid)
        if s0 is None:
            continue
        groups = {"ckpt": [], "other": []}
        for i, row in enumerate(rows[:-1]):
            sec = float(row[0])
            if float(row[3]) > 50:
                groups["ckpt"].append(i)
            elif sec > 3.5:
                groups["other"].append(i)
        print(f"\n{name} r{r} m{mode} t{t}: {len(groups['ckpt'])} checkpoint seconds, {len(groups['other'])} others")
        tids = collections.OrderedDict()
        for x in mon:
            if x["pid"] == pid:
                for tid, (comm, _) in x["thr"].items():
                    tids.setdefault(tid, comm)
        cols = {}
        for g, idx in groups.items():
            ms = [mon_at(mon, s0 + i + 1) for i in idx]
            if not ms:
                continue
            c = {"tx/s K": statistics.mean(int(rows[i][1]) for i in idx) / 1000}
            for tid, comm in tids.items():
                c[f"{tid} {comm}"] = statistics.mean(x["thr"].get(tid, (comm, 0))[1] if x["pid"] == pid else 0 for x in ms)
            own = [sum(n for _, n in x["thr"].values()) if x["pid"] == pid else 0 for x in ms]
            c["process"] = statistics.mean(own)
            c["others + kernel"] = statistics.mean(int(x["user"]) + int(x["sys"]) - o for x, o in zip(ms, own))
            c["  of which kworker"] = statistics.mean(int(x["kworker"]) for x in ms)
            c["iowait"] = statistics.mean(int(x["iowait"]) for x in ms)
            c["idle"] = statistics.mean(int(x["idle"]) for x in ms)
            cols[g] = c
        if not cols:
            continue
        keys = list(next(iter(cols.values())).keys())
        print(f"  {'':28s} {'ckpt':>8s} {'other':>8s}")
        for k in keys:
            a = cols.get("ckpt", {}).get(k, float("nan"))
            b = cols.get("other", {}).get(k, float("nan"))
            if max(abs(a) if a == a else 0, abs(b) if b == b else 0) < 0.5:
                continue
            print(f"  {k:28s} {a:8.1f} {b:8.1f}")


if __name__ == "__main__":
    main()
