#!/usr/bin/env python3
"""Session 37 (speed37): from steady.sh's mon.py lines (OUT/r*/mon-tT.csv), per run of ours (by its pid) the mean a
second, over the seconds both workers ran (the T busiest threads), of each worker's CPU, the rest of the
process's threads, and the machine's idle, iowait and steal (jiffies: 100 = one CPU).
usage: offcpu.py T OUT/r1/mon-tT.csv ..."""
import collections, sys
t = int(sys.argv[1])
for path in sys.argv[2:]:
    runs = collections.defaultdict(list)
    for l in open(path).read().splitlines()[1:]:
        f = l.split(',')
        if f[12] and f[13]:
            th = {x.split(':')[0]: int(x.split(':')[-1]) for x in f[13].split()}
            runs[f[12]].append((th, int(f[6]), int(f[7]), int(f[5])))
    for pid, secs in runs.items():
        tot = collections.Counter()
        for th, *_ in secs:
            tot.update(th)
        workers = [k for k, _ in tot.most_common(t)]
        if len(workers) < t:
            continue
        rows = [s for s in secs if all(s[0].get(w, 0) > 50 for w in workers)]
        if not rows:
            continue
        n = len(rows)
        w = [sum(r[0].get(x, 0) for r in rows) / n for x in workers]
        other = sum(sum(v for k, v in r[0].items() if k not in workers) for r in rows) / n
        steal, idle, iowait = (sum(r[i] for r in rows) / n for i in (1, 2, 3))
        print(f'{path} pid {pid}: {n} s; workers {" ".join(f"{x:.1f}" for x in w)}; other threads {other:.1f}; '
              f'idle {idle:.1f} iowait {iowait:.1f} steal {steal:.1f}')
