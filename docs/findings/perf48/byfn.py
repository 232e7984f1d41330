#!/usr/bin/env python3
"""perf48: self instructions of one function (instr.py's address file) by the chain of functions each instruction
was inlined from (objdump -d -l --inlines, names demangled by c++filt), outermost first, kept to functions of the
crates' own modules and cut at DEPTH below the function itself: which step of a probe costs what.
usage: byfn.py BIN ADDRFILE DEPTH CALLS [SKIP]   (SKIP: names of steps not opened further, comma-separated)"""
import sys, subprocess, re, collections
binp, af, depth, calls = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
cost = {}
for l in open(af):
    p = l.split()
    if p[0] != 'total': cost[int(p[0], 16)] = int(p[1])
lo, hi = min(cost), max(cost) + 16
out = subprocess.run(['objdump', '-d', '-l', '--inlines', '--no-show-raw-insn', f'--start-address={lo:#x}',
                      f'--stop-address={hi:#x}', binp], capture_output=True, text=True).stdout
names = {}
def dem(sym):
    if sym not in names:
        d = subprocess.run(['c++filt', sym], capture_output=True, text=True).stdout.strip()
        d = re.sub(r'::h[0-9a-f]{16}$', '', d)
        names[sym] = d
    return names[sym]
ours = ('bufpool_btree::', 'bufpool::frame', 'bufpool::guard')
chain = []; fresh = True; cur = '?'; by = collections.Counter()
for l in out.splitlines():
    m = re.match(r'^([_A-Za-z0-9$.]+)\(\):$', l)
    if m: cur = m.group(1); continue
    m = re.match(r'^(inlined by )?(/\S+|\S+\.rs):(\d+)(?: \(([^)]*)\))?', l)
    if m:
        if fresh: chain = []; fresh = False
        chain.append(dem(m.group(4) if m.group(1) else cur)); continue
    m = re.match(r'^\s*([0-9a-f]+):\s', l)
    if m:
        fresh = True
        a = int(m.group(1), 16)
        if a in cost:
            fns = [f for f in reversed(chain) if f.startswith(ours)]
            short = [f.split('::')[-1] if '<' not in f else f.split(' as ')[-1].rstrip('>').split('::')[-1] for f in fns]
            # drop the probe itself (and its measurement wrappers) and repeats
            path = []
            for s in [x for x in short if x not in ('m_leaf', 'm_other', 'probe_inner', 'probe_at')]:
                if not path or path[-1] != s: path.append(s)
            by[' > '.join(path[:depth]) or '(own lines)'] += cost[a]
tot = sum(cost.values())
print(f'total {tot / calls:.1f} a call')
for k, v in sorted(by.items(), key=lambda kv: -kv[1]):
    if v / calls >= 0.5: print(f'{v / calls:8.1f}  {k}')
