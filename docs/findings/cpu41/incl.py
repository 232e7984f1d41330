#!/usr/bin/env python3
"""Session 41 (cpu41): inclusive cost of the parts of a transaction, K instructions a transaction (10,000
transactions), from lead28/cg.sh's `callgrind_annotate --inclusive=yes --tree=caller` files: a function's largest
`*` line (a function listed under several files is the same work, not summed), and its calls (the `<` lines above).
usage: incl.py NAME.annot ..."""
import re, sys
PARTS = ["OursTxn as bufpool::bench::tpcc::engine::Txn>::get_each", "ours::apply_writes",
         "tree::Tree::put_covered_run", "tree::Tree::log_leaf", "wal::TreeWal::encode_locked",
         "node::leaf_upsert_after", "tree::Tree::latch_leaf", "tree::Tree::split_insert",
         "tree::Tree::delete_covered",
         "OursTxn as bufpool::bench::tpcc::engine::Txn>::scan", "OursTxn as bufpool::bench::tpcc::engine::Txn>::get",
         "ours::WriteSet::push", "wal::encode_ranges", "wal::TreeWal::append",
         "node::probe_inner", "node::probe_run", "tree::Tree::descend_path", "tree::Tree::copy_node",
         "schema::Stock::borrow", "txns::read_batch", "crc32c::hw_x86_64::crc32c", "__memcpy_avx_unaligned_erms"]
LINE = re.compile(r'\s*([\d,]+) \([^)]*\)\s+([*<])\s+\S*?:(.*?)(?: \((\d[\d,]*)x\))?(?: \[.*\])?$')
def parts(path, names=PARTS):
    """Of each of `names`, in the annotate file `path`: (its largest inclusive `*` line, the calls above it)."""
    got, callers = {}, 0
    for l in open(path):
        m = LINE.match(l)
        if not m:
            callers = 0
            continue
        if m.group(2) == '<':
            callers += int(m.group(4).replace(',', '')) if m.group(4) else 0
            continue
        cost, fn = int(m.group(1).replace(',', '')), m.group(3)
        for p in names:
            if fn.endswith(p) and cost > got.get(p, (0, 0))[0]:
                got[p] = (cost, callers)
        callers = 0
    return got
if __name__ == "__main__":
    cols = [parts(path) for path in sys.argv[1:]]
    print("part (inclusive K a transaction; calls; instructions a call) | " + " | ".join(p.split('/')[-1] for p in sys.argv[1:]))
    for p in PARTS:
        cells = []
        for c in cols:
            cost, n = c.get(p, (0, 0))
            cells.append(f"{cost / 1e7:.2f} K" + (f" ({n:,}; {cost / n:.0f})" if n else ""))
        print(f"{p} | " + " | ".join(cells))
