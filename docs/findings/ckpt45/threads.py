#!/usr/bin/env python3
"""Session 45 (ckpt45): the whole run's CPU of the threads beside the workers in meas.sh's system-wide run, by
function (user leaf, or [k:system call] and the kernel leaf): the checkpoint thread, the driver's (tick, write-outs;
its open and the end's check included), the io_uring workers and the kworkers.
usage: threads.py OUT T"""
import collections
import os
import sys

sys.argv = ["an.py", sys.argv[1], sys.argv[2]]
exec(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "an.py")).read().split("\nif MODE ==")[0])
pid=int(open(f"{OUT}/sys-t{T}.pid").read())
evs=list(events(f"{OUT}/sys-t{T}.data"))
tids=sorted({e[2] for e in evs if e[1]==pid and e[0]==COMM})
slow=max(tids)
for who,sel in (('checkpoint thread', lambda e: e[2]==slow), ('main', lambda e: e[2]==pid), ('iou-wrk', lambda e: e[1]==pid and e[0].startswith('iou-wrk')), ('kworker', lambda e: e[0].startswith('kworker'))):
    c=collections.Counter(); n=0
    for e in evs:
        if e[5]!='cpu-clock' or not sel(e): continue
        n+=1
        if e[8]:
            sysc, leaf = kclass(e[7]); c['[k:'+sysc+'] '+leaf]+=1
        else:
            c[e[7][0] if e[7] else '?']+=1
    print(f"{who}: {n} samples ({n/499:.2f} s)")
    for k,v in c.most_common(22): print(f"   {v:6d} {k[:110]}")
