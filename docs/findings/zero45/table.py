#!/usr/bin/env python3
"""Session 45 (zero45): count.sh's runs (OUT/TAG-MODE-tT.txt) as one line each: tx/s, cpu/tx, wr/tx, syncs/tx, and
per log (txn, tree) the zeroed tail's counts a transaction and over the run (growths under io, their KiB and
ms; growths written ahead by the tick, KiB, ms; write-outs that waited for io, and the ms they waited).
usage: table.py OUT/*.txt"""
import re, sys
for path in sys.argv[1:]:
    t = open(path).read()
    m = re.search(r'tpcc bufpool-btree (\S+) threads=(\d+) pool-fraction=8: (\d+) tx/s', t)
    if not m:
        continue
    mode, th, tps = m.group(1), m.group(2), int(m.group(3))
    row = re.search(r'^bufpool-btree\s+\S+\s+(\S+)\s+\S+\s+\S+\s+\S+\s+\S+\s+(\S+)\s+(\S+)', t, re.M)
    secs = float(re.search(r'--seconds (\S+)', t).group(1)) if '--seconds' in t else 60.0
    lc = dict((k, float(v)) for k, v in re.findall(r'(\w+\.\w+) ([\d.]+)', (re.search(r'log counts/tx: (.*)', t) or [None, ''])[1] if re.search(r'log counts/tx: (.*)', t) else ''))
    n = tps * secs
    print(f'{path.split("/")[-1]}: {tps} tx/s, cpu/tx {row.group(1)}, wr/tx {row.group(2)}, syncs/tx {row.group(3)}')
    for log in ('txn', 'tree'):
        g = lambda k: lc.get(f'{log}.{k}', 0.0)
        print(f'  {log}: under io: {g("grows")*n:.0f} growths ({g("grows"):.6f}/tx), {g("grow_bytes")*n/1024:.0f} KiB '
              f'({g("grow_bytes"):.1f} B/tx), {g("grow_ns")*n/1e6:.1f} ms ({g("grow_ns"):.1f} ns/tx); ahead: '
              f'{g("ahead")*n:.0f} ({g("ahead_bytes")*n/1024:.0f} KiB, {g("ahead_ns")*n/1e6:.1f} ms); io waits '
              f'{g("io_waits")*n:.0f} ({g("io_waits"):.6f}/tx), {g("io_wait_ns")*n/1e6:.1f} ms ({g("io_wait_ns"):.1f} ns/tx)')
