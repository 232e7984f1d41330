#!/usr/bin/env python3
# perf29: per-transaction figures of prof.sh runs (MODE stat): usage stat.py DIR TAG...
# Transactions in the window: the per-second samples' rates integrated over the window (the perf window starts
# once 2 sample lines exist, ~2.0 s, and lasts 8 s; the snapshots give its exact length from /proc/stat's clock).
import sys, re, collections
import os
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from window import window_tx  # noqa: E402
d = sys.argv[1]
HZ = 100
def snap(path):
    th = {}; cpu = None
    for l in open(path):
        f = l.split()
        if f[0] == 'cpu': cpu = [int(x) for x in f[2:]]; continue
        # tid (comm) utime stime run_ns wait_ns slices
        th[f[0]] = dict(comm=f[1], ut=int(f[2]), st=int(f[3]), run=int(f[4]), wait=int(f[5]), sl=int(f[6]))
    return th, cpu
for tag in sys.argv[2:]:
    a, ca = snap(f'{d}/{tag}.snap0'); b, cb = snap(f'{d}/{tag}.snap1')
    dc = [y - x for x, y in zip(ca, cb)]  # user nice system idle iowait irq softirq steal
    tot = sum(dc[:8])
    # the snapshots' window (2 cores' jiffies) is a little longer than perf's 8 s: its transactions are counted
    # over [2, 2 + that], the perf stat events over perf's 8 s
    secs = tot / 2 / HZ
    tx = window_tx(f'{d}/{tag}.samples', 2.0, 2.0 + secs); tx8 = window_tx(f'{d}/{tag}.samples')
    print(f'== {tag}: {tx:.0f} tx in the {secs:.2f} s of the snapshots, {tx8:.0f} in perf\'s 8 s')
    print(f'  machine (both cores, jiffies): user {dc[0]} sys {dc[2]} idle {dc[3]} iowait {dc[4]} irq {dc[5]} softirq {dc[6]} steal {dc[7]} of {tot}')
    run = wait = ut = st = 0
    for tid in b:
        if tid not in a: continue
        x, y = a[tid], b[tid]
        r = (y['run'] - x['run']) / 1e3 / tx; w = (y['wait'] - x['wait']) / 1e3 / tx
        u = (y['ut'] - x['ut']) * 1e6 / HZ / tx; s = (y['st'] - x['st']) * 1e6 / HZ / tx
        run += r; wait += w; ut += u; st += s
        if r > 0.05 or w > 0.05:
            print(f'  tid {tid:>7} {y["comm"]:<12} run {r:6.2f} us/tx  runqueue wait {w:5.2f}  user {u:5.2f} sys {s:5.2f}  slices {(y["sl"]-x["sl"])/tx:6.3f}/tx')
    print(f'  process: run {run:.2f} us/tx (user {ut:.2f}, sys {st:.2f}), runqueue wait {wait:.2f}')
    try:
        ev = collections.defaultdict(float)
        for l in open(f'{d}/{tag}.stat'):
            f = l.strip().split(',')
            if len(f) < 4 or l.startswith('#'): continue
            try: v = float(f[1])
            except ValueError: continue
            ev[f[3]] += v
        for k, v in ev.items():
            unit = ' us' if k == 'task-clock' else ''
            val = v * 1e3 / tx8 if k == 'task-clock' else v / tx8
            print(f'  {k:<32} {val:10.4f}{unit} /tx')
    except FileNotFoundError:
        pass
