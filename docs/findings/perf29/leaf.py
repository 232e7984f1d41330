#!/usr/bin/env python3
# perf29: us a transaction by thread and symbol from a prof.sh record run (cpu-clock -F 2000: 500 us a sample),
# over the transactions of the 8 s window (window.py). usage: leaf.py DIR TAG [TOP]
import sys, re, collections, subprocess
import os
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from window import window_tx  # noqa: E402
d, tag = sys.argv[1], sys.argv[2]; top = int(sys.argv[3]) if len(sys.argv) > 3 else 25
tx = window_tx(f'{d}/{tag}.samples')
out = subprocess.run(['perf', 'script', '-i', f'{d}/{tag}.data', '-F', 'tid,ip,sym,dso', '-G'], capture_output=True, text=True).stdout
by_tid = collections.Counter(); by_sym = collections.Counter()
for l in out.splitlines():
    f = l.split(None, 2)
    if len(f) < 3: continue
    tid = f[0]; rest = f[2]
    m = re.match(r'(.*) \((.*)\)$', rest)
    sym, dso = (m.group(1), m.group(2)) if m else (rest, '?')
    sym = re.sub(r'::h[0-9a-f]{16}$', '', sym)
    k = 'kernel' if 'kallsyms' in dso else 'user'
    by_tid[(tid, k)] += 1; by_sym[(tid, k, sym)] += 1
us = lambda n: n * 500 / tx
print(f'{tag}: {tx:.0f} tx in the window; us a transaction (all transactions) by thread, user and kernel')
tids = sorted({t for t, _ in by_tid}, key=lambda t: -(by_tid[(t, 'user')] + by_tid[(t, 'kernel')]))
for t in tids:
    print(f'  tid {t}: user {us(by_tid[(t, "user")]):6.2f}  kernel {us(by_tid[(t, "kernel")]):5.2f}')
print(f'  all: {us(sum(by_tid.values())):.2f}')
print('top symbols (us/tx):')
for (t, k, s), n in by_sym.most_common(top):
    print(f'  {us(n):5.2f}  {t} {k[0]} {s[:100]}')
