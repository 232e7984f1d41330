#!/usr/bin/env python3
"""The commit's apply by function, from cg.sh's `callgrind_annotate --inclusive=yes --tree=caller` files (10,000
transactions each): a function's inclusive cost a transaction (the largest of its lines: a function listed under its
source's absolute and relative paths is the same work twice, so not summed), and a call edge's cost and calls
(`CALLER > CALLEE`: the caller's line in the callee's block, the largest such); `calls of F`: the calls of F from
every caller.
usage: funcs.py NAME.annot ..."""
import re, sys
FUNCS = ["ours::apply_writes", "tree::Tree::put_covered_run", "tree::Tree::latch_leaf", "tree::Tree::log_leaf",
         "node::leaf_upsert_after", "tree::Tree::split_insert", "tree::Tree::delete_as",
         "tree::Tree::put_covered_run > tree::Tree::latch_leaf", "tree::Tree::latch_leaf > tree::Tree::descend_path",
         "tree::Tree::delete_as > tree::Tree::latch_leaf", "ours::apply_writes > __rustc::__rust_alloc",
         "calls of __rustc::__rust_alloc"]
N = 10000
LINE = re.compile(r'\s*([\d,]+) \([^)]*\)\s+([*<>])\s+\S*?:(.*?)(?: \((\d[\d,]*)x\))?(?: \[.*\])?$')
cols = []
for path in sys.argv[1:]:
    got = {f: (0, 0) for f in FUNCS}
    callers = []
    for l in open(path):
        m = LINE.match(l)
        if not m:
            callers = []
            continue
        cost, kind, fn, calls = int(m.group(1).replace(',', '')), m.group(2), m.group(3), m.group(4)
        if kind == '<':
            callers.append((fn, cost, int(calls.replace(',', '')) if calls else 0))
            continue
        for f in FUNCS:
            if f.startswith('calls of '):
                if fn.endswith(f[9:]):
                    got[f] = (0, max(got[f][1], sum(n for _, _, n in callers)))
            elif ' > ' in f:
                caller, callee = f.split(' > ')
                if fn.endswith(callee):
                    for c, cc, n in callers:
                        if c.endswith(caller) and cc > got[f][0]:
                            got[f] = (cc, n)
            elif fn.endswith(f) and cost > got[f][0]:
                got[f] = (cost, 0)
        callers = []
    cols.append(got)
print("function (K instructions a transaction; calls) | " + " | ".join(p.split('/')[-1].removesuffix('.annot') for p in sys.argv[1:]))
for f in FUNCS:
    print(f"{f} | " + " | ".join((f"{c[f][0] / N / 1000:.2f} K" if c[f][0] else "") + (f" ({c[f][1]:,})" if c[f][1] else "") for c in cols))
