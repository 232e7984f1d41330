#!/usr/bin/env python3
"""Session 35 (speed35): the length of each direct I/O our process made (reads and writes alike: the tracepoint
does not tell them apart; in memory, no misses, the checkpointing threads only write), from `perf script -F comm,tid,time,event,
trace` of `iomap:iomap_dio_rw_begin` (the inline NOWAIT attempt: one a write, punted or not), by writing thread and
second, in pages (4 KiB); the pool's io thread (`bufpool-io-*`: the open's reads, one page each) is left out.
usage: perf script -i perf.data -F comm,tid,time,event,trace | runlen.py [--by-thread]"""
import collections, re, sys

by_thread = "--by-thread" in sys.argv
c = collections.defaultdict(collections.Counter)
pages = collections.Counter()
for l in sys.stdin:
    if "iomap_dio_rw_begin" not in l or "NOWAIT" not in l:
        continue
    f = l.split()
    if f[0].startswith("bufpool-io"):
        continue
    t = int(float(re.search(r"\s(\d+\.\d+):", l).group(1)))
    n = int(re.search(r"length (0x[0-9a-f]+)", l).group(1), 16) // 4096
    k = "1" if n == 1 else "2-8" if n <= 8 else "9-31" if n < 32 else "32" if n == 32 else "33-128" if n <= 128 else ">128"
    key = f[1] if by_thread else (f[1], t)
    c[key][k] += 1
    pages[key] += n
for key in sorted(c, key=str):
    print(key, "writes", sum(c[key].values()), "pages", pages[key], dict(sorted(c[key].items())))
