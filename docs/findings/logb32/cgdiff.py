#!/usr/bin/env python3
"""Exclusive instructions a transaction by function, build B less build A, from two callgrind outputs of
lead28/cg.sh on the same fixed count of transactions. usage: cgdiff.py A.cg B.cg [N=10000]"""
import re, subprocess, sys
def load(p):
    out = subprocess.run(["callgrind_annotate", "--auto=no", "--threshold=100", p], capture_output=True, text=True).stdout
    d = {}
    for l in out.split("\n"):
        if "=>" in l:
            continue
        m = re.match(r'^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*?)(?: \[.*\])?$', l)
        if m:
            f = m.group(2).split(":", 1)[-1]
            d[f] = d.get(f, 0) + int(m.group(1).replace(",", ""))
    return d
n = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
a, b = load(sys.argv[1]), load(sys.argv[2])
print(f"totals: {a['PROGRAM TOTALS'] / n:.0f} -> {b['PROGRAM TOTALS'] / n:.0f} a transaction")
diff = sorted(((b.get(k, 0) - a.get(k, 0)), k) for k in set(a) | set(b) if k != "PROGRAM TOTALS")
for d, k in diff[:12] + diff[-12:]:
    print(f"{d / n:8.0f} /tx  {k[:110]}")
