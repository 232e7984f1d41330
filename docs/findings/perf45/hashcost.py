#!/usr/bin/env python3
"""perf45: self instructions on the lines of ours.rs' key_hash (626-632), near_hash (785-790) and NearHints::set_of
(796-804) in main 190f722's source, wherever inlined, from instr.py's output for every function (NAME ""); per
call of the focused transaction. usage: hashcost.py BIN ADDRFILE CALLS"""
import subprocess, re, collections, sys
binp, af, calls = sys.argv[1], sys.argv[2], int(sys.argv[3])
cost = {}
for l in open(af):
    p = l.split()
    if p[0] == 'total': continue
    cost[int(p[0], 16)] = int(p[1])
addrs = sorted(a for a in cost if a < 0x1000000)
out = subprocess.run(['objdump', '-d', '-l', '--inlines', '--no-show-raw-insn', f'--start-address={addrs[0]:#x}',
                      f'--stop-address={addrs[-1] + 16:#x}', binp], capture_output=True, text=True).stdout
chain, fresh, by = [], True, collections.Counter()
for l in out.splitlines():
    m = re.match(r'^(?:inlined by )?(/\S+|\S+\.rs):(\d+)', l)
    if m:
        if fresh: chain, fresh = [], False
        chain.append(m.group(1).split('/')[-1] + ':' + m.group(2)); continue
    m = re.match(r'^\s*([0-9a-f]+):\s', l)
    if m:
        fresh = True
        a = int(m.group(1), 16)
        ours = [c for c in chain if c.startswith('ours.rs:')]
        if a in cost and ours:
            ln = int(ours[0].split(':')[1])
            for name, lo, hi in (('key_hash', 626, 632), ('near_hash', 785, 790), ('set_of', 796, 804)):
                if lo <= ln <= hi: by[name] += cost[a]
for k, v in by.items(): print(f"{k}: {v:,} instructions, {v / calls:.0f} a call")
print(f"together: {sum(by.values()) / calls:.0f} a call")
