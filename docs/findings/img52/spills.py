#!/usr/bin/env python3
"""Session 52 (img52): the workers' (and the driver's) off-CPU time in the tree logs' write-outs, from `perf script`
of sched_switch with call graphs (lead52's offcpu.sh). Each switch-out of a thread in TIDS is matched with its next
switch-in; intervals whose stack holds TreeWal::spill_if_large, TreeWal::check_dependents, TreeWal::check_room_within
or TreeWal::write_out are kept, keyed by that entry and by what the thread waited in (the innermost of: an fsync, a
write, a mutex: `io` or `state`, told apart by the frame under it), and summed by second of the run (the samples
file's checkpoint seconds: syncs/s > 50). usage: spills.py SCRIPT.txt SAMPLES.csv TID[:name] ..."""
import collections
import re
import sys

script, samples = sys.argv[1], sys.argv[2]
names = {}
for a in sys.argv[3:]:
    t, _, n = a.partition(':')
    names[int(t)] = n or t
head = re.compile(r' \[\d+\] ([\d.]+): sched:sched_switch: .*prev_pid=(\d+) .*prev_state=(\S+) ==> .*next_pid=(\d+)')
ENTRIES = ('spill_if_large', 'check_dependents', 'check_room_within', 'TreeWal::write_out', 'flush_lsn_for',
           'TreeWal::commit')


def classify(stack):
    fr = [re.sub(r'\+0x[0-9a-f]+$', '', f) for f in stack]
    entry = next((e for f in fr for e in ENTRIES if e in f), None)
    if entry is None:
        return None
    inner = '?'
    for i, f in enumerate(fr):
        if 'fsync' in f or 'fdatasync' in f or 'file_write_and_wait' in f:
            inner = 'fsync'
            break
        if 'ksys_pwrite' in f or 'vfs_write' in f or 'ext4_buffered_write' in f:
            inner = 'pwrite'
            break
        if 'lock_slow' in f:
            nxt = next((g for g in fr[i + 1:] if 'bufpool' in g and 'lock_api' not in g), '?')
            inner = 'mutex in ' + nxt.split('::')[-1]
            break
    return entry, inner


recs, cur = [], None
for line in open(script):
    if not line.strip():
        if cur:
            recs.append(cur)
        cur = None
    elif line[0] not in ' \t':
        m = head.search(line)
        cur = m and {'t': float(m.group(1)), 'prev': int(m.group(2)), 'st': m.group(3)[0], 'next': int(m.group(4)),
                     'stack': []}
    elif cur is not None:
        p = line.split(None, 1)
        if len(p) >= 2:
            cur['stack'].append(p[1].split(' (')[0])
if cur:
    recs.append(cur)
ck = {}
for l in open(samples):
    if l[0].isdigit():
        s, tx, miss, syncs = l.split(',')[:4]
        ck[int(float(s) - 0.5)] = (float(syncs) > 50, int(tx))
# The run's start: the workers' first switch (they are spawned at the measurement's start; names starting 'w').
first = next((r['t'] for r in recs if names.get(r['prev'], '').startswith('w')), 0)
out = {}
tot = collections.defaultdict(lambda: [0, 0.0])
per = collections.defaultdict(lambda: collections.defaultdict(float))
long = []
for r in recs:
    if r['prev'] in names:
        out[r['prev']] = (r['t'], r['st'], classify(r['stack']))
    if r['next'] in names and r['next'] in out:
        t, st, k = out.pop(r['next'])
        if k is None:
            continue
        d = r['t'] - t
        key = (names[r['next']], st, k[0], k[1])
        tot[key][0] += 1
        tot[key][1] += d
        if t >= first:
            per[int(t - first)][names[r['next']]] += d
        if d > 0.005 and names[r['next']].startswith('w'):
            long.append((t - first, d, key))
print('off-CPU intervals in the tree logs\' write-outs, whole run: count, seconds, thread, state, entry, waited in')
for key, (n, v) in sorted(tot.items(), key=lambda x: -x[1][1]):
    print(f'{n:6d} {v:8.3f} s  {key[0]:8s} {key[1]} {key[2]:18s} {key[3]}')
print('\nby second of the run (from the threads\' first switch): tx/s, checkpoint second?, off-CPU s per thread')
for s in sorted(per):
    c, tx = ck.get(s, (None, None))
    print(s, tx, 'CKPT' if c else '    ', ' '.join(f'{n}:{v:.3f}' for n, v in sorted(per[s].items())))
print('\nthe workers\' waits over 5 ms: at (s from the start), for (ms), thread, state, entry, waited in')
for at, d, key in long:
    print(f'{at:8.3f} {d * 1000:7.1f} ms  {key[0]} {key[1]} {key[2]} {key[3]}')
