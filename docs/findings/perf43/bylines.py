#!/usr/bin/env python3
"""perf43: self instructions of one function by source line (the innermost inlined line objdump -l names).
usage: bylines.py BIN ADDRFILE (instr.py's output)"""
import sys, subprocess, re, collections
binp, af = sys.argv[1], sys.argv[2]
cost = {}
for l in open(af):
    p = l.split()
    if p[0] == 'total': continue
    cost[int(p[0], 16)] = int(p[1])
lo, hi = min(cost), max(cost) + 16
out = subprocess.run(['objdump', '-d', '-l', '--no-show-raw-insn', f'--start-address={lo:#x}', f'--stop-address={hi:#x}', binp],
                     capture_output=True, text=True).stdout
line = '?'; by = collections.Counter(); ins = collections.defaultdict(list)
for l in out.splitlines():
    m = re.match(r'^(/\S+|\S+\.rs):(\d+)', l)
    if m:
        line = m.group(1).split('/')[-1] + ':' + m.group(2); continue
    m = re.match(r'^\s*([0-9a-f]+):\s*(.*)$', l)
    if m:
        a = int(m.group(1), 16)
        if a in cost:
            by[line] += cost[a]; ins[line].append(m.group(2).strip())
tot = sum(cost.values())
print('total', tot)
for k, v in by.most_common(40):
    print(f'{v:>10} {100*v/tot:5.1f}%  {k}')
