#!/usr/bin/env python3
# perf29: us a transaction by symbol (all threads summed), 1 thread against 2, from two prof.sh record runs of one
# round. usage: grow.py DIR TAG1 TAG2 [TOP]
import sys, re, subprocess, collections
import os
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from window import window_tx  # noqa: E402
d, a, b = sys.argv[1:4]; top = int(sys.argv[4]) if len(sys.argv) > 4 else 25
def load(tag):
    tx = window_tx(f'{d}/{tag}.samples'); c = collections.Counter()
    out = subprocess.run(['perf', 'script', '-i', f'{d}/{tag}.data', '-F', 'ip,sym,dso', '-G'], capture_output=True, text=True).stdout
    for l in out.splitlines():
        f = l.split(None, 1)
        if len(f) < 2: continue
        m = re.match(r'(.*) \((.*)\)$', f[1]); sym = m.group(1) if m else f[1]
        k = 'k ' if m and 'kallsyms' in m.group(2) else 'u '
        c[k + re.sub(r'::h[0-9a-f]{16}$', '', sym)] += 500 / tx
    return c
A, B = load(a), load(b)
print(f'total us/tx: {a} {sum(A.values()):.2f}  {b} {sum(B.values()):.2f}')
rows = sorted(((B[s] - A[s], A[s], B[s], s) for s in set(A) | set(B)), reverse=True)
print('growth   1T     2T   symbol')
for r in rows[:top]: print(f'{r[0]:+6.2f} {r[1]:6.2f} {r[2]:6.2f}  {r[3][:100]}')
print('... most shrunk:')
for r in rows[-6:]: print(f'{r[0]:+6.2f} {r[1]:6.2f} {r[2]:6.2f}  {r[3][:100]}')
