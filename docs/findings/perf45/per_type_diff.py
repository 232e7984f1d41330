#!/usr/bin/env python3
"""perf45: instructions a transaction by type for the transactions a longer fixed count runs past a shorter one
(lead28/cg.sh with the same seed: the first N transactions of both runs are the same draws), from the two
`callgrind_annotate --inclusive=yes --tree=caller` files: (inclusive of txns::TYPE in LONG - in SHORT) over (its
calls in LONG - in SHORT). The transactions after the first N, with the worker's hints warm and most leaves
imaged once since the open. usage: per_type_diff.py SHORT.annot LONG.annot"""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../gap26"))
from per_type import per_type as read  # gap26's parse of one annotate file
a, b = read(sys.argv[1]), read(sys.argv[2])
ti = tn = 0
for t in a:
    di, dn = b[t][0] - a[t][0], b[t][1] - a[t][1]
    ti += di; tn += dn
    print(f"{t}: {dn} calls, {di / dn / 1000:.1f} K a call")
print(f"all: {tn} transactions, {ti / tn / 1000:.1f} K a transaction")
