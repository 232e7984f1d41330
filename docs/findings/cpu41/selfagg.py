#!/usr/bin/env python3
"""Session 41 (cpu41): self cost by function, K instructions a transaction (10,000 transactions), from
`callgrind_annotate --threshold=100 --auto=no NAME.cg`: a function's lines listed under several files (inlined
code) are summed. usage: selfagg.py NAME.self [N]"""
import re,collections,sys
agg=collections.Counter()
for l in open(sys.argv[1]):
    m=re.match(r'\s*([\d,]+) \([^)]*\)\s+(\S.*?):(.*?)( \[.*\])?$',l)
    if m: agg[m.group(3)]+=int(m.group(1).replace(',',''))
N=int(sys.argv[2]) if len(sys.argv)>2 else 50
for f,c in agg.most_common(N): print(f"{c/10000/1000:7.2f} K  {f[:150]}")
print(f"{sum(agg.values())/1e7:7.2f} K total")
