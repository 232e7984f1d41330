#!/usr/bin/env python3
"""Session 52: off-CPU time of the given threads from `perf script` of sched_switch with call graphs (offcpu.sh):
for each switch-out, the time until the thread's next switch-in, keyed by state (R preempted, S sleep, D disk) and
the first frame of our code on its stack; split by second into the checkpoint's seconds (syncs/s > 50 in the
samples file) and the others. usage: offcpu.py SCRIPT.txt SAMPLES.csv TID [TID ...]"""
import re, sys, collections
script, samples, tids = sys.argv[1], sys.argv[2], set(int(t) for t in sys.argv[3:])
head = re.compile(r' \[\d+\] ([\d.]+): sched:sched_switch: .*prev_pid=(\d+) .*prev_state=(\S+) ==> .*next_pid=(\d+)')
recs, cur = [], None
for line in open(script):
    if not line.strip():
        if cur: recs.append(cur)
        cur = None
    elif line[0] not in ' \t':
        m = head.search(line)
        cur = m and {'t': float(m.group(1)), 'prev': int(m.group(2)), 'st': m.group(3)[0], 'next': int(m.group(4)), 'stack': []}
    elif cur is not None:
        p = line.split()
        if len(p) >= 2: cur['stack'].append(p[1])
if cur: recs.append(cur)
def key(stack):
    for f in stack:
        if 'bufpool' in f and 'frame::park' not in f and 'sync::' not in f: return re.sub(r'\+0x[0-9a-f]+$', '', f)
    return '?'
# the run's seconds: the samples file's first line is at 1 s after the measured start
ck = []
for l in open(samples):
    if l.startswith('#') or l.startswith('seconds'): continue
    s, tx, miss, syncs = l.split(',')[:4]
    ck.append((float(s), float(syncs) > 50))
out = {}
tot = collections.defaultdict(float); secs = collections.Counter()
start = None
for r in recs:
    if r['prev'] in tids:
        out[r['prev']] = (r['t'], r['st'], key(r['stack']))
    if r['next'] in tids and r['next'] in out:
        t, st, k = out.pop(r['next'])
        if start is None: start = t
        tot[(st, k)] += r['t'] - t
print('off-CPU seconds of threads', sorted(tids), 'over the whole run (summed over threads):')
for (st, k), v in sorted(tot.items(), key=lambda x: -x[1])[:25]:
    print(f'{v:8.3f} s  {st}  {k}')
# By second from the threads' first switch (about the measured start), preempted (R) against asleep (S, D).
per = collections.defaultdict(lambda: collections.Counter())
out = {}
first = None
for r in recs:
    if r['prev'] in tids:
        if first is None: first = r['t']
        out[r['prev']] = (r['t'], r['st'], key(r['stack']))
    if r['next'] in tids and r['next'] in out:
        t, st, k = out.pop(r['next'])
        s = int(t - first)
        per[s][st] += r['t'] - t
        per[s][k if st != 'R' else 'R'] += r['t'] - t if st != 'R' else 0
print('second: preempted R / asleep S / disk D (s, summed over threads), top sleep')
for s in sorted(per):
    c = per[s]
    top = sorted(((v, k) for k, v in c.items() if k not in 'RSD'), reverse=True)[:3]
    print(s, f"R {c['R']:.3f} S {c['S']:.3f} D {c['D']:.3f}", ' '.join(f'{k.split("::")[-1]}:{v:.3f}' for v, k in top))
