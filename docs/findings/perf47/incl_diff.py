#!/usr/bin/env python3
"""perf47: cpu41/incl.py's parts (a function's largest inclusive `*` line and its calls) for the transactions a
longer fixed count runs past a shorter one (lead28/cg.sh, same seed): per transaction of the window, and per call.
usage: incl_diff.py SHORT.annot:LONG.annot ..."""
import os, sys
PARTS = ["OursTxn as bufpool::bench::tpcc::engine::Txn>::get_each", "OursTxn as bufpool::bench::tpcc::engine::Txn>::get",
         "tree::Tree::descend", "tree::Tree::descend_path", "node::probe_inner", "node::probe_run",
         "txns::read_batch", "ours::apply_writes", "tree::Tree::log_leaf"]
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "../gap26"), os.path.join(HERE, "../cpu41")]
from per_type import per_type
from incl import parts
for pair in sys.argv[1:]:
    s, l = pair.split(':')
    a, b = parts(s, PARTS), parts(l, PARTS)
    n = sum(v[1] for v in per_type(l).values()) - sum(v[1] for v in per_type(s).values())
    print(f"{l} - {s}: {n} transactions")
    for p in PARTS:
        c = b.get(p, (0, 0))[0] - a.get(p, (0, 0))[0]
        k = b.get(p, (0, 0))[1] - a.get(p, (0, 0))[1]
        print(f"  {p.split('>::')[-1]}: {c / n:.0f} a transaction, {k:,} calls ({k / n:.2f} a transaction)" + (f", {c / k:.0f} a call" if k else ""))
