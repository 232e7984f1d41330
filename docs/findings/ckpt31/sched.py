#!/usr/bin/env python3
"""Session 31 (ckpt31): reads sched.sh's perf script output; each thread's role by its stacks (worker, checkpoint,
tick, bgwriter); the in-run checkpoint's span (the samples under Ours::tick_checkpoints -> checkpoint_txlog);
then for the workers, inside that span and in the same length of time before it: on-CPU samples and switches
off the CPU, by the first frame of ours on the chain that names what they were doing (KEYS below).
usage: sched.py OUT/sched.txt"""
import re, sys
from collections import Counter, defaultdict

KEYS = ['park_while_busy', 'snooze', 'latch_exclusive', 'latch_shared', 'write_run', 'flush_lsn_for', 'write_locked',
        'write_out', 'spill_if_large', 'cover_leaf', 'append', 'commit', 'RwLock', 'lock_contended', 'futex',
        'checksum', 'write_all_at', 'pwrite', 'sync', 'fdatasync']

samples = []
cur = None
for line in open(sys.argv[1]):
    if line.strip() == '':
        if cur: samples.append(cur)
        cur = None
        continue
    if not line.startswith('\t') and not line.startswith(' '):
        m = re.match(r'(\S+)\s+(\d+)\s+([\d.]+):\s+(\S+):', line)
        if m:
            cur = dict(tid=int(m.group(2)), t=float(m.group(3)), ev=m.group(4), fr=[])
        continue
    if cur is not None:
        parts = line.strip().split(None, 1)
        cur['fr'].append(parts[1] if len(parts) > 1 else parts[0])
if cur: samples.append(cur)

votes = defaultdict(Counter)
for s in samples:
    j = ' '.join(s['fr'])
    r = ('worker' if 'run_thread' in j else 'checkpoint' if 'tick_checkpoints' in j or 'slow_ticks' in j else
         'io-wq' if 'io_wq_worker' in j or 'io_wq_submit_work' in j else
         'tick (main)' if 'tick_fast' in j or 'tick_logs' in j or 'driver::measure' in j else None)
    if r:
        votes[s['tid']][r] += 1
role = {tid: v.most_common(1)[0][0] for tid, v in votes.items()}
ck = [s['t'] for s in samples if any('checkpoint_txlog' in f for f in s['fr']) and any('tick_checkpoints' in f for f in s['fr'])]
if not ck:
    sys.exit('no in-run checkpoint')
c0, c1 = min(ck), max(ck)
b0, b1 = c0 - (c1 - c0) - 0.5, c0 - 0.5
print(f'in-run checkpoint span {c1-c0:.2f} s; compared with the {b1-b0:.2f} s ending 0.5 s before it')
print('threads:', dict(Counter(role.values())))
print('on-CPU samples (250 Hz, 2 cores) by role, in the checkpoint / before:')
for r in ['worker', 'checkpoint', 'tick (main)', 'io-wq', None]:
    n_in = sum(1 for s in samples if role.get(s['tid']) == r and s['ev'] == 'cpu-clock' and c0 <= s['t'] <= c1)
    n_b = sum(1 for s in samples if role.get(s['tid']) == r and s['ev'] == 'cpu-clock' and b0 <= s['t'] <= b1)
    print(f'  {str(r):12s} {n_in:6d} {n_b:6d}')
print(f'  (of {int(2 * 250 * (c1 - c0))} a window)')

def what(fr):
    for f in fr:
        for k in KEYS:
            if k in f:
                return k + ' <- ' + next((g.split('::')[-1] for g in fr if g.startswith('bufpool') and k not in g), '?')
    user = [f for f in fr if f.startswith('bufpool')]
    return (user[0] if user else (fr[0] if fr else '?'))[:90]

for r in ['worker', 'checkpoint', 'tick (main)', 'io-wq']:
    for ev in ['cpu-clock', 'sched:sched_switch']:
        inside, before = Counter(), Counter()
        for s in samples:
            if role.get(s['tid']) != r or s['ev'] != ev:
                continue
            if c0 <= s['t'] <= c1: inside[what(s['fr'])] += 1
            elif b0 <= s['t'] <= b1: before[what(s['fr'])] += 1
        if not inside and not before:
            continue
        print(f'\n{r}, {ev}: {sum(inside.values())} in the checkpoint, {sum(before.values())} before (per second: '
              f'{sum(inside.values())/(c1-c0):.0f} / {sum(before.values())/(b1-b0):.0f})')
        for k, n in (inside + before).most_common(14):
            print(f'  {inside[k]:6d} {before[k]:6d}  {k}')

# The workers' switches off the CPU by what they waited for: a lock, a latch, a log; else preempted (or another
# wait not named here) in the middle of their work.
WAITS = ['write_locked', 'spill_if_large', 'check_dependents', 'cover_leaf_checked', 'Locks::take', 'take_stripes',
         'park_while_busy', 'snooze', 'lock_slow', 'lock_contended', 'flush_lsn_for', 'fdatasync']
inside, before = Counter(), Counter()
for s in samples:
    if role.get(s['tid']) != 'worker' or s['ev'] == 'cpu-clock':
        continue
    j = ' '.join(s['fr'])
    k = next((w for w in WAITS if w in j), 'preempted/other')
    if c0 <= s['t'] <= c1: inside[k] += 1
    elif b0 <= s['t'] <= b1: before[k] += 1
print('\nworkers\' switches by wait, in the checkpoint / before:')
for k, n in (inside + before).most_common():
    print(f'  {inside[k]:6d} {before[k]:6d}  {k}')
