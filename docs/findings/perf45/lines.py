#!/usr/bin/env python3
"""perf45: self instructions of the addresses in instr.py's output, by the innermost line of the inline chain in the
given files (objdump -d -l --inlines). usage: lines.py BIN ADDRFILE FILES(comma-separated) [N]"""
import sys, subprocess, re, collections
binp, af = sys.argv[1], sys.argv[2]
mine = tuple(sys.argv[3].split(','))
cost = {}
for l in open(af):
    p = l.split()
    if p[0] == 'total': continue
    cost[int(p[0], 16)] = int(p[1])
lo, hi = min(cost), max(cost) + 16
out = subprocess.run(['objdump', '-d', '-l', '--inlines', '--no-show-raw-insn', f'--start-address={lo:#x}', f'--stop-address={hi:#x}', binp],
                     capture_output=True, text=True).stdout
chain = []; by = collections.Counter(); fresh = True
for l in out.splitlines():
    m = re.match(r'^(?:inlined by )?(/\S+|\S+\.rs):(\d+)', l)
    if m:
        if fresh: chain = []; fresh = False
        chain.append(m.group(1).split('/')[-1] + ':' + m.group(2)); continue
    m = re.match(r'^\s*([0-9a-f]+):\s', l)
    if m:
        fresh = True
        a = int(m.group(1), 16)
        if a in cost:
            ours = [c for c in chain if c.split(':')[0] in mine]
            by[ours[0] if ours else (chain[0] if chain else '?')] += cost[a]
tot = sum(cost.values())
print('total', tot)
for k, v in by.most_common(int(sys.argv[4]) if len(sys.argv) > 4 else 40):
    print(f'{v:>10} {100*v/tot:5.1f}%  {k}')
