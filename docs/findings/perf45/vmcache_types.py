#!/usr/bin/env python3
"""perf45: vmcache's instructions a transaction by type, from vmcache-cg.sh's `callgrind_annotate --inclusive=yes
--tree=calling` file (vm.calling): the worker loop's (main's lambda #5) callees newOrderRnd, paymentById +
paymentByName, orderStatusId + orderStatusName and delivery, each inclusive over its calls; Stock-Level is inlined
into the loop, so it is the loop's inclusive cost less those callees and genName, over its runs (the loop's
`vector<int>::reserve` calls, one a Stock-Level), an upper bound that holds the loop's own per-transaction draws
(the mix's random number and the home warehouse) of every type; and the whole loop over the run's transactions
(vm.txt's per-second counts). usage: vmcache_types.py vm.calling vm.txt"""
import re, sys
lines = open(sys.argv[1]).read().split('\n')
start = next(i for i, l in enumerate(lines) if '*' in l and 'lambda(unsigned long, unsigned long, unsigned long)#5' in l
             and 'TPCCWorkload.hpp' in l)
loop_all = next(int(l.split()[0].replace(',', '')) for l in lines
                if '*' in l and 'lambda(unsigned long, unsigned long, unsigned long)#5' in l and 'std_thread.h' in l)
callee = {}
for l in lines[start + 1:]:
    if not l.strip():
        break
    m = re.match(r'\s*([\d,]+) \([^)]*\)\s+>\s+(.*?) \(([\d,]+)x\)', l)
    if m:
        callee[m.group(2)] = (int(m.group(1).replace(',', '')), int(m.group(3).replace(',', '')))
def pick(*names):
    c = n = 0
    for k, (cost, calls) in callee.items():
        if any(f'::{x}(' in k for x in names) and 'vector' not in k:
            c += cost; n += calls
    return c, n
types = {"new_order": pick("newOrderRnd"), "payment": pick("paymentById", "paymentByName"),
         "order_status": pick("orderStatusId", "orderStatusName"), "delivery": pick("delivery")}
sl_runs = next(calls for k, (cost, calls) in callee.items() if 'vector<int' in k and 'reserve' in k)
named = sum(c for c, _ in types.values()) + sum(c for k, (c, _) in callee.items() if '::genName(' in k)
txs = sum(int(l.split(',')[1]) for l in open(sys.argv[2]) if re.match(r'^\d+,\d+,', l))
types["stock_level (upper bound)"] = (loop_all - named, sl_runs)
for t, (c, n) in types.items():
    print(f"{t}: {n} calls, {c / n / 1000:.1f} K a call")
print(f"all: {txs} transactions, {loop_all / txs / 1000:.1f} K a transaction (the worker loop, inclusive)")
