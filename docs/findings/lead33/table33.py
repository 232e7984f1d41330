#!/usr/bin/env python3
"""Ratios to vmcache of a same-hour sitting, from its raw files (ab26.sh's OUT directory), with the statistics
fixed in session 33:
- vmcache: the median of its per-second samples from its 4th second on (ts >= 3; ts 0 is its first second), over
  the numeric sample lines only. ab26.sh let vmcache's two banner lines and CSV header into the median as empty
  values (three values below every sample), taking its 5th-lowest of 12 samples instead of its 6th.
- ours, steady: the median of the bench's per-second samples from the 4th second on (a sample's `seconds` is the
  end of its second: 1.01, 2.01, 3.07, ...; so `seconds > 3.5`), the last, partial one left out. ab26.sh took
  `seconds >= 3`, one second earlier than vmcache's window: the third second, before the checkpoint, counted too.
- ours, whole run: the bench's own figure (committed transactions over the run).
The median of an even count is the lower middle, as the scripts' awk took it.
usage: table33.py RAWDIR [PREFIX]   (files PREFIXvmc-rR-tT.csv, PREFIXNAME-rR-tT.txt, PREFIXNAME-rR-tT.samples.csv)"""
import glob, os, re, statistics, sys
raw = sys.argv[1]
pre = sys.argv[2] if len(sys.argv) > 2 else ''
low_mid = lambda xs: sorted(xs)[(len(xs) + 1) // 2 - 1]
vmc = {}
for p in glob.glob(os.path.join(raw, pre + 'vmc-r*-t*.csv')):
    r, t = re.search(r'vmc-(r\d+)-(t\d)\.csv$', p).groups()
    xs = [int(c[1]) for c in (l.strip().split(',') for l in open(p)) if len(c) > 1 and c[0].isdigit() and int(c[0]) >= 3]
    vmc[(r, t)] = low_mid(xs)
rows = {}
for p in glob.glob(os.path.join(raw, pre + '*-r*-t*.txt')):
    m = re.search(re.escape(pre) + r'([A-Za-z0-9_]+)-(r\d+)-(t\d)\.txt$', os.path.basename(p))
    if not m or m.group(1) == 'vmc':
        continue
    name, r, t = m.groups()
    whole = re.search(r'threads=\d pool-fraction=8: (\d+) tx/s, consistent: true', open(p).read())
    smp = p[:-4] + '.samples.csv'
    steady = None
    if os.path.exists(smp):
        ys = [float(c[1]) for c in (l.strip().split(',') for l in open(smp) if not l.startswith('#'))
              if len(c) > 1 and re.match(r'^[0-9.]+$', c[0]) and float(c[0]) > 3.5][:-1]
        steady = low_mid(ys) if ys else None
    rows.setdefault((t, name), []).append((r, float(whole.group(1)) if whole else None, steady))
for (t, name), runs in sorted(rows.items()):
    runs.sort()
    w = [x / vmc[(r, t)] for r, x, _ in runs if x and (r, t) in vmc]
    s = [y / vmc[(r, t)] for r, _, y in runs if y and (r, t) in vmc]
    fmt = lambda v: ' '.join(f'{x:.2f}' for x in v) + (f'  median {statistics.median(v):.3f}' if v else '')
    print(f'{t} {name:8} whole {fmt(w)} | steady {fmt(s)}')
for t in sorted({t for _, t in vmc}):
    print(f'{t} vmcache ' + ' '.join(f'{vmc[k]}' for k in sorted(vmc) if k[1] == t))
