#!/usr/bin/env python3
"""perf49 (nwo48's, the directory from $CG, default /work/tmp-perf49/cg): self instructions a transaction by function over transactions 50,001-150,000 (callgrind_annotate
--threshold=100 --auto=no of count.sh's NAME50k.cg and NAME150k.cg), the first build's, then each other build's minus
it, the 20 functions that differ most. usage: selfcmp.py BUILD..."""
import os, re, sys
def read(p):
    got = {}
    for l in open(p):
        m = re.match(r'\s*([\d,]+) \([^)]*\)\s+(\S+?):(.*?)(?: \[.*\])?$', l)
        if m:
            fn = m.group(3); got[fn] = got.get(fn, 0) + int(m.group(1).replace(',', ''))
    return got
C=os.environ.get('CG','/work/tmp-perf49/cg')+'/'
bs=sys.argv[1:]; w={}
for b in bs:
    a,c=read(C+b+'50k.self'),read(C+b+'150k.self')
    w[b]={f:(c[f]-a.get(f,0))/100000 for f in c}
fs=set().union(*[set(w[b]) for b in bs])
rows=sorted(fs,key=lambda f:-sum(abs(w[b].get(f,0)-w[bs[0]].get(f,0)) for b in bs[1:]))
print(f"{bs[0]:>8} " + " ".join(f"{b+'-'+bs[0]:>9}" for b in bs[1:]))
for f in rows[:int(20)]:
    m=w[bs[0]].get(f,0); print(f"{m:8.0f} " + " ".join(f"{w[b].get(f,0)-m:9.0f}" for b in bs[1:]) + f"  {f[:100]}")
print('total', f"{sum(w[bs[0]].values()):.0f}", " ".join(f"{sum(w[b].values())-sum(w[bs[0]].values()):.0f}" for b in bs[1:]))
