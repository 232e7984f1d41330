#!/usr/bin/env python3
"""Ratios to vmcache from an ab26.sh summary: per round and thread count, each build's whole-run tx/s and steady
median (its per-second samples from the fourth second) over vmcache's median of the same round; medians over rounds.
usage: table.py SUMMARY"""
import re, statistics, sys
vmc, ours = {}, {}
for line in open(sys.argv[1]):
    f = line.split()
    r, t, name = f[0], f[1], f[2]
    if name == 'vmcache':
        vmc[(r, t)] = float(f[4])
    else:
        whole = float(re.search(r': (\d+) tx/s', line).group(1))
        steady = float(line.rsplit('steady-median', 1)[1])
        ours.setdefault((name, t), []).append((r, whole, steady))
for (name, t), runs in sorted(ours.items(), key=lambda kv: (kv[0][1], kv[0][0])):
    w = [whole / vmc[(r, t)] for r, whole, _ in runs]
    s = [steady / vmc[(r, t)] for r, _, steady in runs]
    print(f"{t} {name:8} whole " + " ".join(f"{x:.2f}" for x in w) + f"  median {statistics.median(w):.3f}"
          f" | steady " + " ".join(f"{x:.2f}" for x in s) + f"  median {statistics.median(s):.3f}")
for t in sorted({t for _, t in vmc}):
    print(f"{t} vmcache " + " ".join(f"{vmc[(r, t)]:.0f}" for r, tt in sorted(vmc) if tt == t))
