#!/usr/bin/env python3
"""log34: page-cache pages a run added (fresh pages written into) and deleted (punched, truncated), by thread and
by file (inode: its pages, and its folios by order; the largest inode is the transaction log), from prof.sh's MODE fresh: perf script -i X.data -F tid,event,trace | fresh.py SAMPLES
SAMPLES: the run's --tpcc-samples file, for its transactions in the 8 s window (seconds 1-9 by the samples' times)."""
import sys, re, collections
add = collections.Counter(); dele = collections.Counter(); by_ino = collections.Counter()
folios = collections.defaultdict(collections.Counter)  # inode -> order -> folios added
for line in sys.stdin:
    m = re.search(r'(\d+)\s+filemap:mm_filemap_(add_to|delete_from)_page_cache:.*ino ([0-9a-f]+).*order=(\d+)', line)
    if not m: continue
    tid, kind, ino, order = m.group(1), m.group(2), m.group(3), int(m.group(4))
    n = 1 << order
    (add if kind == 'add_to' else dele)[tid] += n
    if kind == 'add_to': by_ino[ino] += n; folios[ino][order] += 1
rows = [[float(x) for x in l.split(',')] for l in open(sys.argv[1]) if re.match(r'^[0-9]', l)]
# the window: prof.sh starts perf after the second sample and records 8 s
win = [r for r in rows if 1.5 < r[0] <= 9.6]
tx = sum(r[1] * 1.0 for r in win)  # about a second each
A, D = sum(add.values()), sum(dele.values())
print(f'pages added {A} ({A*4/1024:.0f} MiB), deleted {D} ({D*4/1024:.0f} MiB) in 8 s; transactions in the window ~{tx:.0f}; '
      f'pages added a transaction {A/tx:.3f}')
for tid, n in add.most_common(6): print(f'  thread {tid}: added {n} deleted {dele[tid]}')
for ino, n in by_ino.most_common(6):
    f = folios[ino]
    print(f'  inode {ino}: added {n} pages in {sum(f.values())} folios (by order: '
          + ' '.join(f'{o}:{f[o]}' for o in sorted(f)) + ')')
