#!/usr/bin/env python3
"""Session 37 (speed37): each thread's CPU over the workers' run (from the T busiest threads' first sample to
their last) in prof.sh's perf data: seconds on a CPU (samples / FREQ), and share of the window.
usage: threads.py OUT T [FREQ]"""
import subprocess, sys, collections
out, t = sys.argv[1], int(sys.argv[2])
freq = float(sys.argv[3]) if len(sys.argv) > 3 else 1999
lines = subprocess.run(['perf', 'script', '-i', f'{out}/perf-t{t}.data', '-F', 'tid,time'],
                       capture_output=True, text=True).stdout.split('\n')
samples = [(int(l.split()[0]), float(l.split()[1].rstrip(':'))) for l in lines if l.strip()]
count = collections.Counter(tid for tid, _ in samples)
workers = [tid for tid, _ in count.most_common(t)]
times = [s for tid, s in samples if tid in workers]
a, b = min(times), max(times)
inside = collections.Counter(tid for tid, s in samples if a <= s <= b)
print(f'{t} threads: window {b - a:.2f} s')
for tid, n in inside.most_common():
    role = 'worker' if tid in workers else 'other'
    print(f'  {tid:>8} {role:<7} {n / freq:7.2f} s on a CPU ({100 * n / freq / (b - a):5.1f}% of the window)')
others = sum(n for tid, n in inside.items() if tid not in workers) / freq
print(f'  other threads together: {others:.2f} s ({100 * others / (b - a):.1f}% of one CPU)')
