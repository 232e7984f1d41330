#!/usr/bin/env python3
"""perf48: calls and self instructions a call of each compiled copy of a function, from instr.py's address file and
the binary's symbols (a copy's calls are the count of its first instruction). usage: per_copy.py BIN ADDRFILE NAME"""
import sys, subprocess
binp, af, name = sys.argv[1:4]
c = {}
for l in open(af):
    x, y = l.split()
    if x != 'total': c[int(x, 16)] = int(y)
syms = []
for l in subprocess.run(['nm', '-S', binp], capture_output=True, text=True).stdout.splitlines():
    p = l.split()
    if len(p) == 4 and name in p[3]:
        syms.append((int(p[0], 16), int(p[1], 16), p[3]))
for a, size, n in sorted(syms):
    calls = c.get(a, 0)
    cost = sum(v for k, v in c.items() if a <= k < a + size)
    if calls: print(f'{a:#x} {n[-20:]}: calls {calls}, self {cost}, {cost / calls:.1f} a call')
