#!/usr/bin/env python3
"""Instructions a transaction of named functions, from cg.sh's `callgrind_annotate --inclusive=yes --tree=caller`
files: the largest of a function's lines' inclusive costs over the run's 10,000 transactions. (The branch's build
lists some functions twice, under its source's absolute and relative paths, with about the same cost: the same
work twice, so not summed; a function split by the file of its inlined code is undercounted.)
usage: funcs.py NAME.annot ..."""
import re, sys
FUNCS = ["ours::apply_writes", "ours::WriteSet::push", "wal::encode_edits", "wal::encode_ranges",
         "ours::WriteSet::note_base", "wal::TreeWal::append"]
N = 10000
cols = []
for path in sys.argv[1:]:
    got = dict.fromkeys(FUNCS, 0)
    for l in open(path):
        m = re.match(r'\s*([\d,]+) \([^)]*\)\s+\*\s+\S*?:(.*?)(?: \[.*\])?$', l)
        if not m:
            continue
        for f in FUNCS:
            if m.group(2).endswith(f):
                got[f] = max(got[f], int(m.group(1).replace(',', '')))
    cols.append(got)
print("function | " + " | ".join(p.split('/')[-1].removesuffix('.annot') for p in sys.argv[1:]))
for f in FUNCS:
    print(f"{f} | " + " | ".join(f"{c[f] / N / 1000:.1f} K" for c in cols))
