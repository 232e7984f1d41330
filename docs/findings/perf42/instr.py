#!/usr/bin/env python3
"""Session 42 (perf42): self instructions by instruction address of the functions whose name contains NAME, from a
callgrind file written with --dump-instr=yes (the cost lines of calls= are inclusive and skipped). Output: the total,
then `address count` lines; join them with `objdump -d -l --start-address=...` of the same binary to see which
instructions (and inlined source lines) the count falls on.
usage: instr.py FILE.cg NAME > OUT.txt"""
import sys, re, collections
want = sys.argv[2]
cost = collections.Counter(); names = {}
cur = None; addr = 0; skip = False
def pos(tok, prev):
    if tok.startswith('0x'): return int(tok, 16)
    if tok.startswith('+'): return prev + int(tok[1:])
    if tok.startswith('-'): return prev - int(tok[1:])
    if tok == '*': return prev
    return int(tok)
for l in open(sys.argv[1]):
    if l.startswith('fn='):
        m = re.match(r'fn=\((\d+)\)(?: (.*))?', l.strip())
        if m.group(2): names[m.group(1)] = m.group(2)
        cur = names.get(m.group(1), '')
        continue
    if l.startswith('calls='):
        skip = True; continue
    if l[:1] in '0123456789+-*' :
        parts = l.split()
        a = pos(parts[0], addr)
        if skip:
            skip = False; addr = a; continue
        addr = a
        if want in cur and len(parts) >= 3:
            cost[a] += int(parts[2])
    elif l.startswith(('cfn=','cfl=','cfi=','cob=')):
        # call target spec lines
        m = re.match(r'cfn=\((\d+)\)(?: (.*))?', l.strip())
        if m and m.group(2): names[m.group(1)] = m.group(2)
tot = sum(cost.values())
print('total', tot)
for a, c in sorted(cost.items()):
    print(hex(a), c)
