#!/usr/bin/env python3
"""Instructions per transaction by type from `callgrind_annotate --inclusive=yes --tree=caller` of cg.sh's profile:
the inclusive cost of txns::TYPE over its calls from txns::run. `per_type(path)` is also perf45/per_type_diff.py's."""
import re, sys


def per_type(path):
    """{type: (inclusive instructions, calls)} of the annotate file at `path`, in the mix's order."""
    lines = open(path).read().split('\n')
    got = {}
    for t in ["new_order", "payment", "order_status", "delivery", "stock_level"]:
        for i, l in enumerate(lines):
            if '*' in l and f"tpcc::txns::{t} [" in l:
                incl = int(l.split()[0].replace(',', ''))
                calls, j = 0, i - 1
                while j >= 0 and '<' in lines[j]:
                    m = re.search(r'\(([\d,]+)x\)', lines[j])
                    calls += int(m.group(1).replace(',', '')) if m else 0
                    j -= 1
                got[t] = (incl, calls)
                break
    return got


if __name__ == "__main__":
    total_i = total_n = 0
    for t, (incl, calls) in per_type(sys.argv[1]).items():
        total_i += incl; total_n += calls
        print(f"{t}: {calls} calls, {incl / calls / 1000:.1f} K a call")
    print(f"all: {total_n} transactions, {total_i / total_n / 1000:.1f} K a transaction")
