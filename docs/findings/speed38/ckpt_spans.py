#!/usr/bin/env python3
"""Session 38 (speed38): a run's checkpoints from its samples (`--tpcc-samples`): spans of seconds with at least 15
syncs a second (a checkpoint's put-off passes and cuts; between checkpoints 2-7), a gap of up to 2 quiet seconds
bridged. Prints each file's spans (start-end s) and count, and the run's device writes a transaction from its
report (wr/tx, 4 KiB units), for telling whether two builds did the same checkpoints.
usage: ckpt_spans.py RUN.samples.csv ..."""
import re, sys

for path in sys.argv[1:]:
    rows = [l.split(',') for l in open(path) if l[0].isdigit()]
    spans, cur, quiet = [], None, 0
    for r in rows:
        t, syncs = float(r[0]), float(r[3])
        if syncs >= 15 and t > 2.5:
            if cur is None:
                cur = [t, t]
            cur[1], quiet = t, 0
        elif cur is not None:
            quiet += 1
            if quiet > 2:
                spans.append(cur)
                cur, quiet = None, 0
    if cur:
        spans.append(cur)
    txt = open(path.replace('.samples.csv', '.txt')).read()
    m = re.search(r'bufpool-btree\s+[\d.]+k\s+\S+\s+\S+\s+\S+\s+\S+\s+\S+\s+(\S+)', txt)
    print(f'{path}: {len(spans)} checkpoints: ' + ', '.join(f'{a:.0f}-{b:.0f} s' for a, b in spans) +
          f'; wr/tx {m.group(1) if m else "?"}')
