#!/usr/bin/env python3
"""Session 38 (speed38): from probe.sh's `perf sched record -g` run (`perf script` of it on stdin), the workers'
sleeps (a switch out in state S or D): by what they slept in (the first frame of their stack, kernel and user, that
names a wait: the transaction locks' park, a page latch's park, a log's mutex or fsync, ...), how many a second,
how long asleep (switch out to wakeup) and how late on a CPU after the wakeup (sched_waking to switch in), median and
mean and 90th percentile, us. The workers are the T threads longest on a CPU. Also: the involuntary
switches out (state R: preempted) of the workers by the thread that ran next.
usage: perf script -i OUT/sched-tT.data | sleeps.py T SECS"""
import collections, re, statistics, sys

t, secs = int(sys.argv[1]), float(sys.argv[2])
head = re.compile(r'^\s*(\S.*?)\s+(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(sched:\S+):\s*(.*)$')
events = []  # (time, event, fields, frames)
cur = None
for line in sys.stdin:
    m = head.match(line)
    if m:
        cur = (float(m.group(4)), m.group(5), m.group(6), [])
        events.append(cur)
    elif line.strip() and cur is not None:
        parts = line.split(None, 1)
        if len(parts) == 2:
            cur[3].append(parts[1].strip())


def field(s, k):
    m = re.search(k + r'=(\S+)', s)
    return m.group(1) if m else None


oncpu, since = collections.Counter(), {}
for tm, ev, f, _ in events:
    if ev == 'sched:sched_switch':
        p, n = field(f, 'prev_pid'), field(f, 'next_pid')
        if p in since:
            oncpu[p] += tm - since.pop(p)
        since[n] = tm
workers = [k for k, _ in oncpu.most_common(t + 1) if k != '0'][:t]
WAITS = ['take', 'park_while_busy', 'lock_contended', 'futex_wait', 'write_lock', 'read_contended', 'write_contended',
         'io_schedule', 'fsync', 'fdatasync', 'pwrite', 'pread', 'io_uring', 'nanosleep', 'rwsem', 'mutex_lock',
         'wait_on_page', 'folio_wait']


def why(frames):
    kern = ' '.join(f for f in frames if 'kernel.kallsyms' in f)
    k = next((w for w in ['io_schedule', 'folio_wait', 'rwsem', 'mutex_lock', 'futex_wait', 'do_nanosleep', 'fsync',
                          'fdatasync', 'io_uring'] if w in kern), 'other-kernel')
    user = [f.split(' (')[0].rsplit('+', 1)[0] for f in frames if 'kernel.kallsyms' not in f and 'libc.so' not in f]
    return f'{k} / ' + ' < '.join(u[:70] for u in user[:3])


sleeping = {}   # tid -> (time out, reason)
woken = {}      # tid -> (wakeup time, out time, reason)
stats = collections.defaultdict(lambda: ([], []))
pre = collections.Counter()
for tm, ev, f, frames in events:
    if ev == 'sched:sched_switch':
        p, n, st = field(f, 'prev_pid'), field(f, 'next_pid'), field(f, 'prev_state')
        if p in workers:
            if st and st[0] in 'SD':
                sleeping[p] = (tm, why(frames))
            else:
                pre[field(f, 'next_comm') + ':' + (n if n in workers else 'other')] += 1
        if n in workers and n in woken:
            wt, out, r = woken.pop(n)
            stats[r][0].append((wt - out) * 1e6)
            stats[r][1].append((tm - wt) * 1e6)
    elif ev == 'sched:sched_waking':
        p = field(f, 'pid')
        if p in sleeping:
            out, r = sleeping.pop(p)
            woken[p] = (tm, out, r)
print(f'workers {workers}; {secs:.0f} s')
rows = sorted(stats.items(), key=lambda kv: -len(kv[1][0]))
for r, (sl, lat) in rows:
    q = lambda v: f'median {statistics.median(v):.0f}, mean {statistics.mean(v):.0f}, p90 {sorted(v)[int(len(v) * .9)]:.0f}'
    print(f'{r}: {len(sl) / secs:.0f}/s (both workers); asleep {q(sl)} us; wake to CPU {q(lat)} us; '
          f'asleep in all {sum(sl) / 1e6 / secs * 100:.1f} jiffies/s, late in all {sum(lat) / 1e6 / secs * 100:.2f}')
print('preempted by:', ', '.join(f'{k} {v / secs:.0f}/s' for k, v in pre.most_common(8)))
