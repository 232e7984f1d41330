#!/usr/bin/env python3
"""Instructions per transaction by type from `callgrind_annotate --inclusive=yes --tree=caller` of cg.sh's profile:
the inclusive cost of txns::TYPE over its calls from txns::run."""
import re, sys
lines = open(sys.argv[1]).read().split('\n')
total_i = total_n = 0
for t in ["new_order", "payment", "order_status", "delivery", "stock_level"]:
    for i, l in enumerate(lines):
        if '*' in l and f"tpcc::txns::{t} [" in l:
            incl = int(l.split()[0].replace(',', ''))
            calls, j = 0, i - 1
            while j >= 0 and '<' in lines[j]:
                m = re.search(r'\(([\d,]+)x\)', lines[j])
                calls += int(m.group(1).replace(',', '')) if m else 0
                j -= 1
            total_i += incl; total_n += calls
            print(f"{t}: {calls} calls, {incl / calls / 1000:.1f} K a call")
            break
print(f"all: {total_n} transactions, {total_i / total_n / 1000:.1f} K a transaction")
