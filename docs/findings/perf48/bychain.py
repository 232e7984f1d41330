#!/usr/bin/env python3
"""perf48: self instructions of one function (instr.py's address file) by where in its source they were inlined
from: each instruction's inline chain (objdump -d -l --inlines), outermost first, kept to the frames in FILES and to
DEPTH of them (e.g. probe_inner:1903 > search_after:1920 > search_slots:685). Shows which step of a probe costs what.
usage: bychain.py BIN ADDRFILE FILES(comma-separated) DEPTH [CALLS]   (CALLS: divide by it, a figure per call)"""
import sys, subprocess, re, collections
binp, af, mine, depth = sys.argv[1], sys.argv[2], tuple(sys.argv[3].split(',')), int(sys.argv[4])
calls = float(sys.argv[5]) if len(sys.argv) > 5 else 1.0
cost = {}
for l in open(af):
    p = l.split()
    if p[0] == 'total': continue
    cost[int(p[0], 16)] = int(p[1])
lo, hi = min(cost), max(cost) + 16
out = subprocess.run(['objdump', '-d', '-l', '--inlines', '--no-show-raw-insn', f'--start-address={lo:#x}',
                      f'--stop-address={hi:#x}', binp], capture_output=True, text=True).stdout
def short(sym):
    # _ZN13bufpool_btree4node12ProbedHeader6covers17h..E -> ProbedHeader::covers
    parts = re.findall(r'(\d+)([A-Za-z_$.][^\d]*?)(?=\d+[A-Za-z_$.]|17h[0-9a-f]{16}E|$)', sym)
    names = [n for _, n in parts if not n.startswith('h') or len(n) < 10]
    return '::'.join(names[-2:]) if names else sym
chain = []; fresh = True; by = collections.Counter(); cur_fn = '?'
for l in out.splitlines():
    m = re.match(r'^([_A-Za-z0-9$.]+)\(\):$', l)
    if m:
        cur_fn = m.group(1); continue
    m = re.match(r'^(inlined by )?(/\S+|\S+\.rs):(\d+)(?: \(([^)]*)\))?', l)
    if m:
        if fresh: chain = []; fresh = False
        f = m.group(2).split('/')[-1]
        # the frame's function: for the first line, the current symbol; for "inlined by" lines, the named caller
        chain.append((f, m.group(3), m.group(4) if m.group(1) else cur_fn))
        continue
    m = re.match(r'^\s*([0-9a-f]+):\s', l)
    if m:
        fresh = True
        a = int(m.group(1), 16)
        if a in cost:
            fr = [c for c in reversed(chain) if c[0] in mine]
            key = ' > '.join(f'{c[1]}' for c in fr[:depth]) or '?'
            by[key] += cost[a]
tot = sum(cost.values())
print(f'total {tot} ({tot / calls:.1f} a call)')
for k, v in by.most_common(80):
    print(f'{v / calls:9.1f} {100 * v / tot:5.1f}%  {k}')
