#!/usr/bin/env python3
"""Session 31 (ckpt31): reads probe.sh's perf script output; for each write_dirty (a flush or checkpoint) that
put anything off: its passes, and per pass the runs put off (needs_flush_for_pages true), the runs asked and not put
off, the runs written (write_run, on that thread), the log flushes after the pass (TreeClaim::flush_to), the fsyncs
they made and their time; then the in-run checkpoints' totals and the fsyncs of every thread in their span.
usage: count.py OUT/probe.txt"""
import re, sys
from collections import defaultdict

ev = []
for line in open(sys.argv[1]):
    m = re.match(r'\s*(\d+)\s+([\d.]+):\s+(\S+):', line)
    if not m:
        continue
    tid, t, name = int(m.group(1)), float(m.group(2)), m.group(3)
    name = name.split(':')[-1] if name.startswith('ckpt31') else name.split(':')[-1]
    put = re.search(r'put_off=(\d+)', line)
    ev.append((t, tid, name, int(put.group(1)) if put else None))
t0 = min(e[0] for e in ev)
by_tid = defaultdict(list)
for e in ev:
    by_tid[e[1]].append(e)

ckpts = []  # (start, end, tid)
for tid, es in by_tid.items():
    start = None
    for t, _, name, _ in es:
        if name == 'ckpt':
            start = t
        elif name == 'ckptr' and start is not None:
            ckpts.append((start, t, tid)); start = None

def passes_of(es):
    """Split one write_dirty's events into passes: a pass ends with its flushes (cflush..cflushr)."""
    out, cur, in_flush = [], None, False
    def new():
        return dict(put=0, asked=0, written=0, flushes=0, fsyncs=0, flush_s=0.0, start=None)
    cur = new(); fl_start = None
    for t, _, name, put in es:
        if cur['start'] is None:
            cur['start'] = t
        if name == 'needsr':
            if cur['flushes']:
                out.append(cur); cur = new(); cur['start'] = t
            cur['asked'] += 1; cur['put'] += put
        elif name == 'wrun':
            if cur['flushes']:
                out.append(cur); cur = new(); cur['start'] = t
            cur['written'] += 1
        elif name == 'cflush':
            cur['flushes'] += 1; in_flush = True; fl_start = t
        elif name == 'cflushr':
            in_flush = False; cur['flush_s'] += t - fl_start
        elif name in ('sys_enter_fdatasync', 'sys_enter_fsync') and in_flush:
            cur['fsyncs'] += 1
    out.append(cur)
    return out

for tid, es in by_tid.items():
    i = 0
    while i < len(es):
        if es[i][2] != 'wdirty':
            i += 1; continue
        j = i + 1
        while j < len(es) and es[j][2] != 'wdirtyr':
            j += 1
        body = es[i + 1:j]
        ps = passes_of(body)
        if any(p['put'] for p in ps):
            inck = any(s <= es[i][0] <= e for s, e, _ in ckpts)
            end = es[j][0] if j < len(es) else es[-1][0]
            print(f"write_dirty tid {tid} at {es[i][0]-t0:.2f}s, {end-es[i][0]:.3f}s{' (inside a checkpoint_txlog)' if inck else ''}: {len(ps)} passes")
            print("  pass  runs_asked  put_off  written  log_flushes  their_fsyncs  flush_s")
            for k, p in enumerate(ps, 1):
                print(f"  {k:4d}  {p['asked']:10d}  {p['put']:7d}  {p['written']:7d}  {p['flushes']:11d}  {p['fsyncs']:12d}  {p['flush_s']:.3f}")
            tot = lambda key: sum(p[key] for p in ps)
            print(f"  total {tot('asked'):9d}  {tot('put'):7d}  {tot('written'):7d}  {tot('flushes'):11d}  {tot('fsyncs'):12d}  {tot('flush_s'):.3f}")
        i = j + 1

for s, e, tid in ckpts:
    fs = defaultdict(int)
    for t, ttid, name, _ in ev:
        if s <= t <= e and name.startswith('sys_enter_f'):
            fs['checkpoint thread' if ttid == tid else f'tid {ttid}'] += 1
    print(f"checkpoint_txlog at {s-t0:.2f}s, {e-s:.3f}s; fsyncs in its span by thread: {dict(fs)}")
