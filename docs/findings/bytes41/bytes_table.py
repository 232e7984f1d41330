#!/usr/bin/env python3
"""Session 41 (bytes41): bytes a transaction by log, record kind, op and table, from a BUFPOOL_LOG_BYTES file
(count.patch's sums, dumped at the start and the end of the measured seconds) and the run's committed
transactions. usage: bytes_table.py BYTES_FILE COMMITTED"""
import sys
from collections import defaultdict

TABLES = ["warehouse", "district", "customer", "customer_name", "history", "new_order", "order",
          "order_customer", "order_line", "item", "stock"]
path, tx = sys.argv[1], float(sys.argv[2])
snap = {"start": {}, "end": {}}
for line in open(path):
    f = line.rstrip("\n").split("\t")
    if f[0] in snap:
        snap[f[0]][(f[1], f[2], int(f[3]))] = [int(x) for x in f[4:]]
d = {}
for k, v in snap["end"].items():
    s = snap["start"].get(k, [0] * 6)
    d[k] = [a - b for a, b in zip(v, s)]

def pt(x):
    return x / tx

tot = sum(v[1] for v in d.values())
print(f"committed transactions: {tx:.0f}; all log bytes written a transaction: {pt(tot):.1f}")
# Transaction log.
txn = {k: v for k, v in d.items() if k[0] == "txn"}
zt = sum(v[1] for k, v in txn.items() if k[1].startswith("zeros"))
rt = sum(v[1] for k, v in txn.items() if not k[1].startswith("zeros"))
print(f"\n## transaction log: records {pt(rt):.1f} B/tx, zeros {pt(zt):.1f} B/tx")
print("| table | op | ops/tx | B/tx | op headers B/tx | key B/tx | value or edits B/tx | key prefix shared with previous same-table key B/tx | edits/tx |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
rows = []
for (log, cls, t), v in txn.items():
    if cls.startswith("zeros") or cls == "rec_hdr":
        continue
    hdr = v[1] - v[2] - v[3]
    rows.append((v[1], TABLES[t] if t < len(TABLES) else str(t), cls, v))
for b, tn, cls, v in sorted(rows, reverse=True):
    hdr = v[1] - v[2] - v[3]
    print(f"| {tn} | {cls} | {pt(v[0]):.2f} | {pt(v[1]):.1f} | {pt(hdr):.1f} | {pt(v[2]):.1f} | {pt(v[3]):.1f} | {pt(v[4]):.1f} | {pt(v[5]):.2f} |")
h = txn.get(("txn", "rec_hdr", 0), [0] * 6)
print(f"| (all) | record headers (crc, len, lsn, op count: 18 B) | {pt(h[0]):.2f} | {pt(h[1]):.1f} | | | | | |")
for (log, cls, t), v in sorted(txn.items()):
    if cls.startswith("zeros"):
        print(f"| (all) | {cls} | {pt(v[0]):.3f} grows | {pt(v[1]):.1f} | | | | | |")
by_op = defaultdict(lambda: [0] * 6)
for (log, cls, t), v in txn.items():
    if not cls.startswith("zeros") and cls != "rec_hdr":
        for i in range(6):
            by_op[cls][i] += v[i]
print("\nby op: " + ", ".join(f"{c} {pt(v[1]):.1f} B/tx (headers {pt(v[1]-v[2]-v[3]):.1f}, keys {pt(v[2]):.1f}, values/edits {pt(v[3]):.1f})" for c, v in sorted(by_op.items())))
# Tree logs.
print("\n## trees' logs")
tree = {k: v for k, v in d.items() if k[0] != "txn"}
bytab = defaultdict(float)
bycls = defaultdict(lambda: [0] * 6)
for (log, cls, t), v in tree.items():
    if cls == "split_cut/right_image":
        continue
    bytab[log] += v[1]
    top = cls.split("/")[0]
    for i in range(6):
        bycls[top][i] += v[1] if i == 1 else 0
print("| record kind | B/tx |")
print("|---|---:|")
for c, v in sorted(bycls.items(), key=lambda x: -x[1][1]):
    print(f"| {c} | {pt(v[1]):.1f} |")
print(f"| all | {pt(sum(bytab.values())):.1f} |")
print("\n| table's log | kind/op | records or ops /tx | B/tx | image bytes kept B/tx | hole left out B/tx | garbage kept in images B/tx |")
print("|---|---|---:|---:|---:|---:|---:|")
for (log, cls, t), v in sorted(tree.items(), key=lambda x: -x[1][1]):
    if pt(v[1]) < 0.5:
        continue
    print(f"| {log} | {cls} | {pt(v[0]):.3f} | {pt(v[1]):.1f} | {pt(v[3]):.1f} | {pt(v[5]):.1f} | {pt(v[4]):.1f} |")
print("\n| table's log | B/tx |")
print("|---|---:|")
for log, b in sorted(bytab.items(), key=lambda x: -x[1]):
    print(f"| {log} | {pt(b):.1f} |")
