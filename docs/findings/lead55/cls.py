#!/usr/bin/env python3
"""Session 55: the two workers' cpu-clock samples (prof.sh's perf data, `perf script -F tid,time,ip,sym`) split into a
checkpoint's seconds (the samples file's seconds at < 80% of the run's median tx/s, the first 3 s left out) and the
others: each symbol's CPU per committed transaction in each class (ns/tx), largest difference first.
usage: perf script -i PERF -F tid,time,ip,sym | cls.py SAMPLES.csv TID TID [N]"""
import sys, collections, re
samples, tids = sys.argv[1], set(sys.argv[2:4]); N = int(sys.argv[4]) if len(sys.argv) > 4 else 40
sec = []
for l in open(samples):
    if l[0] in '#s': continue
    f = l.split(','); sec.append((float(f[0]), float(f[1])))
med = sorted(t for _, t in sec)[len(sec) // 2]
cls = {}
for i, (s, t) in enumerate(sec):
    if s < 3.5 or i == len(sec) - 1: continue
    cls[i] = 'C' if t < 0.8 * med else 'N'   # second i covers (sec[i-1].s, sec[i].s]
tx = collections.Counter(); 
for i, c in cls.items(): tx[c] += sec[i][1] * (sec[i][0] - (sec[i-1][0] if i else 0))
cnt = {'C': collections.Counter(), 'N': collections.Counter()}; t0 = None
for line in sys.stdin:
    p = line.split(None, 3)
    if len(p) < 4 or p[0] not in tids: continue
    t = float(p[1].rstrip(':'))
    if t0 is None: t0 = t
    r = t - t0
    # which sample second holds r
    i = next((k for k, (s, _) in enumerate(sec) if r <= s), None)
    if i is None or i not in cls: continue
    sym = re.sub(r'\+0x[0-9a-f]+$', '', p[3].strip())
    cnt[cls[i]][sym] += 1
ns = lambda c, k: cnt[c][k] / 997 * 1e9 / tx[c]
tot = {c: sum(cnt[c].values()) / 997 * 1e9 / tx[c] for c in 'CN'}
print(f"median {med:.0f} tx/s; checkpoint seconds {sum(1 for c in cls.values() if c=='C')}, others {sum(1 for c in cls.values() if c=='N')}; "
      f"workers' CPU a transaction: checkpoint {tot['C']:.0f} ns, others {tot['N']:.0f} ns")
keys = set(cnt['C']) | set(cnt['N'])
for k in sorted(keys, key=lambda k: -(ns('C', k) - ns('N', k)))[:N]:
    print(f"{ns('C',k):8.0f} {ns('N',k):8.0f} {ns('C',k)-ns('N',k):+8.0f}  {k}")
