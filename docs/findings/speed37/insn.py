#!/usr/bin/env python3
"""Session 37 (speed37): within one function of prof.sh's runs, the instructions whose samples a transaction grow
most from 1 to 2 threads (perf annotate's percent of the function times per_tx.py's us a transaction of it, with
the source line perf names just before each), to tell a load of a shared line (a hot instruction right after it
at 2 threads only) from work that is slower everywhere.
usage: insn.py OUT SYMBOL US1 US2 [TOP]"""
import re, subprocess, sys
out, sym, us1, us2 = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
top = int(sys.argv[5]) if len(sys.argv) > 5 else 8
def ann(t):
    txt = subprocess.run(['perf', 'annotate', '-i', f'{out}/perf-t{t}.data', '--stdio', '-s', sym],
                         capture_output=True, text=True).stdout
    d, src, prev = {}, {}, ''
    for l in txt.splitlines():
        m = re.match(r'\s+([0-9.]+) :\s+([0-9a-f]+):\s+(.*)', l)
        if m:
            a = m.group(2)
            d[a] = d.get(a, 0) + float(m.group(1))
            src[a] = (m.group(3).strip()[:60], prev[:70])
            prev_ins = m.group(3)
        elif re.match(r'\s+:\s+\d+\s', l):
            prev = l.split(':', 1)[1].strip()
    return d, src
d1, s1 = ann(1)
d2, s2 = ann(2)
rows = []
for a in set(d1) | set(d2):
    x, y = d1.get(a, 0) * us1 / 100, d2.get(a, 0) * us2 / 100
    rows.append((y - x, x, y, a))
rows.sort(reverse=True)
print(f'{sym}: {us1:.3f} -> {us2:.3f} us/tx')
for d, x, y, a in rows[:top]:
    ins, line = (s2.get(a) or s1.get(a))
    print(f'  {a}: {x:.3f} -> {y:.3f} ({d:+.3f})  {ins:<45} | after: {line}')
