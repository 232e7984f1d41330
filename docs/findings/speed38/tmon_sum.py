#!/usr/bin/env python3
"""Session 38 (speed38): tmon.py's seconds of one run, split into checkpoint seconds (the threads other than the
workers and the driver's main thread on a CPU > 20 ms in that second: the checkpointing thread, its io_uring
workers) and the others. Per class, means a second: each worker's ms on a CPU, ms runnable but waiting for a CPU,
voluntary switches (sleeps: lock and latch parks, I/O waits) and involuntary ones (preemptions); the driver's
main thread's ms on a CPU and its voluntary switches (= its sleeps between ticks: ticks a second); the other
threads' ms; the machine's user, system, iowait, steal and idle jiffies (200 = both CPUs).
Seconds before both workers ran (> 500 ms each) and the last one are left out.
usage: tmon_sum.py T RUN.tmon.csv"""
import collections, sys

t, path = int(sys.argv[1]), sys.argv[2]
secs = collections.defaultdict(dict)
mach = {}
for l in open(path).read().splitlines()[1:]:
    f = l.split(',')
    e, tid = f[0], f[1]
    secs[e][tid] = [int(x) for x in f[3:8]]
    mach[e] = [int(x) for x in f[8:13]]
tot = collections.Counter()
for e, th in secs.items():
    for tid, v in th.items():
        tot[tid] += v[1]
main = min(tot, key=int)
workers = [k for k, _ in tot.most_common() if k != main][:t]
order = sorted(secs, key=float)
rows = {'checkpoint': [], 'other': []}
for e in order[:-1]:
    th = secs[e]
    if not all(th.get(w, [0] * 5)[1] > 500e6 for w in workers):
        continue
    rest = sum(v[1] for k, v in th.items() if k not in workers and k != main)
    rows['checkpoint' if rest > 20e6 else 'other'].append((th, mach[e], rest))
for cls, rs in rows.items():
    if not rs:
        continue
    n = len(rs)
    m = lambda f: sum(f(r) for r in rs) / n
    ws = '; '.join(
        f'w{i}: on-CPU {m(lambda r: r[0].get(w, [0]*5)[1]) / 1e6:.0f} ms, runnable {m(lambda r: r[0].get(w, [0]*5)[2]) / 1e6:.1f} ms, '
        f'vol {m(lambda r: r[0].get(w, [0]*5)[3]):.0f}, invol {m(lambda r: r[0].get(w, [0]*5)[4]):.0f}'
        for i, w in enumerate(workers))
    print(f'{path} {cls} seconds: {n}; {ws}; main on-CPU {m(lambda r: r[0].get(main, [0]*5)[1]) / 1e6:.1f} ms, '
          f'sleeps {m(lambda r: r[0].get(main, [0]*5)[3]):.0f}; other threads {m(lambda r: r[2]) / 1e6:.0f} ms; '
          'machine user/sys/iowait/steal/idle ' + ' '.join(f'{m(lambda r: r[1][i]):.1f}' for i in range(5)))
