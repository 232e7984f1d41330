#!/usr/bin/env python3
"""Session 37 (speed37): pairs.sh's runs as pairs: per round (of each OUT dir given) B/A of the whole run's tx/s
and of the steady median (steady.sh's), then their medians; and each build over vmcache of the same round.
usage: pair_ratios.py A B OUT [OUT...]"""
import re, statistics, sys

a, b, outs = sys.argv[1], sys.argv[2], sys.argv[3:]
pr, ps, va, vb = [], [], [], []
for out in outs:
    rounds = {}
    for l in open(f'{out}/summary.txt'):
        f = l.split()
        r, name = f'{out}:{f[0]}', f[4]
        if name == 'vmcache':
            run, steady = float(l.split('run-mean ')[1].split()[0]), float(l.split('steady-median ')[1].split()[0])
        else:
            run = float(re.search(r': (\d+) tx/s', l).group(1))
            steady = float(l.split('steady-median ')[1].split()[0])
        rounds.setdefault(r, {})[name] = (run, steady)
    for r, d in rounds.items():
        if a in d and b in d:
            x, y = d[a], d[b]
            pr.append(y[0] / x[0]); ps.append(y[1] / x[1])
            line = f'{r}: {a} {x[0]:.0f} / {x[1]:.0f}, {b} {y[0]:.0f} / {y[1]:.0f}: {b}/{a} run {pr[-1]:.3f}, steady {ps[-1]:.3f}'
            if 'vmcache' in d:
                v = d['vmcache']
                va.append(x[0] / v[0]); vb.append(y[0] / v[0])
                line += f'; vmcache {v[0]:.0f} / {v[1]:.0f}: {a}/vmcache {va[-1]:.2f}, {b}/vmcache {vb[-1]:.2f} (run)'
            print(line)
if pr:
    print(f'median {b}/{a}: run {statistics.median(pr):.3f}, steady {statistics.median(ps):.3f} ({len(pr)} pairs)')
if va:
    print(f'median over vmcache (run): {a} {statistics.median(va):.2f}, {b} {statistics.median(vb):.2f}')
