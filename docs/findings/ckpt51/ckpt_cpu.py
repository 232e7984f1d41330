#!/usr/bin/env python3
"""Session 51 (ckpt51): a prof.sh run's CPU by role, per checkpoint and per page the pool wrote.

usage: ckpt_cpu.py OUTDIR [F]
Reads OUTDIR/script.txt (perf script -F tid,time,ip,sym,dso), OUTDIR/run.json. Roles: the two workers (the two
threads with the most samples), the checkpointing thread (the thread with most samples in `write_dirty`), its
io_uring workers (threads named iou-wrk-<that tid>, from `perf report --sort pid`: passed in OUTDIR/pids.txt), the
driver (the process's first thread). A checkpoint second is one where the checkpointing thread has 20 samples or
more; the checkpoints are the runs of such seconds.
"""
import collections
import json
import re
import sys

out = sys.argv[1]
hz = float(sys.argv[2]) if len(sys.argv) > 2 else 999.0
rows = []
for line in open(f"{out}/script.txt"):
    p = line.split(None, 3)
    if len(p) < 4:
        continue
    rows.append((p[0], float(p[1].rstrip(':')), p[3].rsplit(' (', 1)[0].strip()))
names = {}
for line in open(f"{out}/pids.txt"):
    m = re.match(r'\s*[0-9.]+%\s+(\d+):(\S+)', line)
    if m:
        names[m.group(1)] = m.group(2)
by = collections.Counter(r[0] for r in rows)
wd = collections.Counter(r[0] for r in rows if 'write_dirty' in r[2])
ck = wd.most_common(1)[0][0]
workers = [t for t, _ in by.most_common() if t != ck][:2]
iou = [t for t, n in names.items() if n == f"iou-wrk-{ck}"]
driver = min(by, key=int)
t0 = min(r[1] for r in rows)
sec = collections.defaultdict(collections.Counter)
for tid, t, _ in rows:
    role = 'ck' if tid == ck else 'iou' if tid in iou else 'w' if tid in workers else 'drv' if tid == driver else 'other'
    sec[int(t - t0)][role] += 1
ck_secs = [s for s in sorted(sec) if sec[s]['ck'] >= 20]
spans = []
for s in ck_secs:
    if spans and s - spans[-1][-1] <= 1:
        spans[-1].append(s)
    else:
        spans.append([s])
j = json.load(open(f"{out}/run.json"))['results'][0]
pages = j['writes_by_cause'].get('pool.flush', 0) * j['committed']
tot = collections.Counter()
for s in sec:
    tot.update(sec[s])
n = len(spans)
print(f"tx/s {j['ops_per_sec']:.0f}; checkpointing thread {ck}, io_uring workers {len(iou)}, workers {workers}, driver {driver}")
print(f"checkpoints (spans of seconds with >= 20 samples of its thread): {n}: {[(sp[0], sp[-1]) for sp in spans]}")
print(f"pages written by flushes and checkpoints (pool.flush x committed): {pages:.0f}")
for role in ('ck', 'iou', 'drv', 'w'):
    print(f"  {role}: {tot[role]} samples = {tot[role] / hz:.2f} CPU-s")
inrun = sum(sec[s]['ck'] + sec[s]['iou'] for sp in spans for s in sp)
print(f"checkpointing thread + its io_uring workers in the checkpoints' seconds: {inrun / hz:.2f} CPU-s, "
      f"{inrun / hz / max(n, 1):.3f} CPU-s a checkpoint")
ws = [sec[s]['w'] for sp in spans for s in sp[1:-1]] if spans else []
other = [sec[s]['w'] for s in sec if all(s not in sp for sp in spans) and 12 < s < max(sec) - 3]
if ws and other:
    ws.sort(); other.sort()
    print(f"workers' samples a second (both): inner checkpoint seconds median {ws[len(ws)//2]}, others median {other[len(other)//2]}")
