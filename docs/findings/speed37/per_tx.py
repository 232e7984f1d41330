#!/usr/bin/env python3
"""Session 37 (speed37): prof.sh's two runs side by side: each function's worker samples per transaction
(us of CPU a transaction at FREQ Hz) at 1 and at 2 threads, sorted by the growth. The workers are the threads
with the most samples (T of them); transactions = tx/s x seconds + rolled back, from the run's table line.
usage: per_tx.py OUT [FREQ] [SECS] [TOP]"""
import re, subprocess, sys

out = sys.argv[1]
freq = float(sys.argv[2]) if len(sys.argv) > 2 else 1999
secs = float(sys.argv[3]) if len(sys.argv) > 3 else 25
top = int(sys.argv[4]) if len(sys.argv) > 4 else 40

def perf(*args):
    return subprocess.run(['perf', 'report', '--stdio', '--no-children', *args],
                          capture_output=True, text=True).stdout

def run(t):
    data = f'{out}/perf-t{t}.data'
    tids = []
    for l in perf('-i', data, '--sort', 'pid', '-F', 'sample,pid').splitlines():
        m = re.match(r'\s*(\d+)\s+(\d+):', l)
        if m:
            tids.append((int(m.group(1)), m.group(2)))  # perf's 'pid' key is the thread's id
    tids.sort(reverse=True)
    workers = [tid for _, tid in tids[:t]]
    txt = open(f'{out}/run-t{t}.txt').read() + open(f'{out}/perf-t{t}.err').read()
    tps = int(re.search(rf'threads={t} pool-fraction=8: (\d+) tx/s', txt).group(1))
    row = [l for l in txt.splitlines() if l.startswith('bufpool-btree ')][-1].split()
    rbk = int(row[10])
    n = tps * secs + rbk
    funcs = {}
    # `--tid` filtering drops samples (perf 6.x here): sort by thread and symbol, keep the workers' lines.
    for l in perf('-i', data, '--sort', 'pid,sym', '-F', 'sample,pid,sym').splitlines():
        m = re.match(r'\s*(\d+)\s+(\d+):\S*\s+\[[.k]\]\s+(.*\S)', l)
        if m and m.group(2) in workers:
            funcs[m.group(3)] = funcs.get(m.group(3), 0) + int(m.group(1))
    total = sum(funcs.values())
    return n, tps, total, funcs, [s for s, _ in tids[:t]]

n1, tps1, tot1, f1, w1 = run(1)
n2, tps2, tot2, f2, w2 = run(2)
us = lambda s, n: s / freq / n * 1e6
print(f'1 thread: {tps1} tx/s, {n1:.0f} tx, worker samples {w1}, {us(tot1, n1):.2f} us CPU/tx')
print(f'2 threads: {tps2} tx/s, {n2:.0f} tx, worker samples {w2}, {us(tot2, n2):.2f} us CPU/tx')
print(f'{"us/tx 1T":>9} {"us/tx 2T":>9} {"+us":>7} {"x":>6}  function')
rows = []
for k in set(f1) | set(f2):
    a, b = us(f1.get(k, 0), n1), us(f2.get(k, 0), n2)
    rows.append((b - a, a, b, k))
rows.sort(reverse=True)
for d, a, b, k in rows[:top]:
    print(f'{a:9.3f} {b:9.3f} {d:+7.3f} {b / a if a else float("inf"):6.2f}  {k[:110]}')
print('...')
for d, a, b, k in rows[-5:]:
    print(f'{a:9.3f} {b:9.3f} {d:+7.3f} {b / a if a else float("inf"):6.2f}  {k[:110]}')
print(f'total: {us(tot1, n1):.2f} -> {us(tot2, n2):.2f} us/tx')

# Groups: the transaction locks' waits (spins in `take`, inlined into these), the kernel's (timer, scheduler,
# futex), and everything else.
locks = ('ours::Locks::take_next', 'ours::take_stripes', 'write_contended', 'read_contended', 'futex')
def group(k):
    if any(x in k for x in locks):
        return 'transaction locks (take, spins)'
    if k[:1].islower() and '::' not in k and not k.startswith('__') and '@' not in k:
        return 'kernel'
    return 'the rest'
g = {}
for d, a, b, k in rows:
    x = g.setdefault(group(k), [0, 0])
    x[0] += a
    x[1] += b
for k, (a, b) in sorted(g.items()):
    print(f'{k}: {a:.2f} -> {b:.2f} us/tx ({b - a:+.2f}, x{b / a if a else 0:.2f})')
