#!/usr/bin/env python3
# usage: attr.py DIR TAG... : us of CPU per committed transaction, per symbol, of perf runs (cpu-clock -F 4000)
import subprocess, sys, re, collections, statistics
d = sys.argv[1]
def load(tag):
    # committed in the perf window: sample lines with end in (2, 12] seconds, approx
    lines = [l.split(',') for l in open(f'{d}/{tag}.samples') if re.match(r'^[0-9]', l)]
    prev = 0.0; tx = 0.0; n = 0
    # perf starts once 2 lines exist (~2.0 s) and runs 10 s
    for l in lines:
        end = float(l[0]); rate = float(l[1])
        lo, hi = max(prev, 2.0), min(end, 12.0)
        if hi > lo: tx += rate * (hi - lo)
        prev = end
    out = subprocess.run(['perf', 'report', '-i', f'{d}/{tag}.data', '--no-children', '-n', '--sort', 'dso,sym', '--stdio', '--percent-limit', '0'], capture_output=True, text=True).stdout
    s = collections.Counter(); total = 0
    for l in out.splitlines():
        m = re.match(r'\s+([0-9.]+)%\s+(\d+)\s+(\S+)\s+\[(.)\]\s+(.*)$', l)
        if not m: continue
        n = int(m.group(2)); total += n
        sym = m.group(5).strip()
        sym = re.sub(r'::h[0-9a-f]{16}$', '', sym)
        s[sym] += n
    return tx, total, s
runs = {t: load(t) for t in sys.argv[2:]}
for t, (tx, total, s) in runs.items():
    print(f'{t}: tx in window {tx:.0f}, samples {total}, us/tx {total*250/tx:.2f}')
# compare: first half of tags are 1-thread runs, second half 2-thread runs (medians of us/tx per symbol)
tags = sys.argv[2:]
h = len(tags) // 2
def per(tag, sym):
    tx, total, s = runs[tag]
    return s.get(sym, 0) * 250 / tx
syms = set()
for t in tags: syms |= set(runs[t][2])
rows = []
for sym in syms:
    a = statistics.median(per(t, sym) for t in tags[:h])
    b = statistics.median(per(t, sym) for t in tags[h:])
    rows.append((b - a, a, b, sym))
rows.sort(reverse=True)
ta = statistics.median(runs[t][1]*250/runs[t][0] for t in tags[:h]); tb = statistics.median(runs[t][1]*250/runs[t][0] for t in tags[h:])
print(f'total us/tx: 1T {ta:.2f}  2T {tb:.2f}  growth {tb-ta:+.2f}')
print('growth  1T   2T  symbol')
for r in rows[:int(__import__("os").environ.get("TOP", "30"))]:
    print(f'{r[0]:+6.2f} {r[1]:5.2f} {r[2]:5.2f}  {r[3][:110]}')
print('... most shrunk:')
for r in rows[-8:]:
    print(f'{r[0]:+6.2f} {r[1]:5.2f} {r[2]:5.2f}  {r[3][:110]}')
