#!/usr/bin/env python3
"""Session 40 (speed40): tax.sh's runs in a table: per run (OUT/k-NAME) vmcache's run mean and steady median
(steady.sh's summary), and from mon.py's seconds while vmcache ran: its busiest T threads' jiffies a second, and
the machine's user, system, steal, iowait and idle (jiffies a second, 200 = both CPUs); then each played run's
tx/s over the mean of the alone (A) runs of the same OUT.
usage: tax_sum.py T OUT [OUT...]"""
import collections, glob, os, re, statistics, sys

t = int(sys.argv[1])
print("| run | vmcache tx/s run / steady | workers' jiffies/s | user | system | steal | iowait | idle | / alone (run) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for out in sys.argv[2:]:
    rows = []
    for d in sorted(glob.glob(out + "/[0-9]*-*"), key=lambda p: int(os.path.basename(p).split("-")[0])):
        s = open(d + "/summary.txt").read()
        run = float(re.search(r"run-mean (\d+)", s).group(1))
        st = float(re.search(r"steady-median (\d+)", s).group(1))
        m = [l.strip().split(",") for l in open(glob.glob(d + "/mon-t*.csv")[0])][1:]
        m = [r for r in m if r[12] and r[13]]
        tot = collections.Counter()
        for r in m:
            for x in r[13].split():
                tot[x.split(":")[0]] += int(x.split(":")[-1])
        w = [k for k, _ in tot.most_common(t)]
        n = len(m)
        wj = [sum(int(x.split(":")[-1]) for r in m for x in r[13].split() if x.split(":")[0] == k) / n for k in w]
        mean = lambda i: sum(float(r[i]) for r in m) / n
        rows.append((os.path.basename(d), run, st, wj, mean(3), mean(4), mean(6), mean(5), mean(7)))
    alone = statistics.mean(r[1] for r in rows if r[0].endswith("-A")) if any(r[0].endswith("-A") for r in rows) else 0
    for r in rows:
        print("| %s/%s | %.0f / %.0f | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %s |" % (
            os.path.basename(out), r[0], r[1], r[2], " ".join("%.1f" % x for x in r[3]), r[4], r[5], r[6], r[7], r[8],
            "%.3f" % (r[1] / alone) if alone and not r[0].endswith("-A") else ""))
