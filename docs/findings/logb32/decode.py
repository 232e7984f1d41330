#!/usr/bin/env python3
"""Decodes a TPC-C transaction log (txn.log, wal.rs' BPTWAL02 format, the record format given as argv[2]:
"v1" = main's, "v2" = logb32's) and counts its bytes by part, by op kind and table, and by transaction type.
usage: decode.py TXN_LOG [v1|v2]"""
import struct, sys, collections

TABLES = ["warehouse", "district", "customer", "customer_name", "history", "new_order", "order",
          "order_customer", "order_line", "item", "stock"]
path = sys.argv[1]
fmt = sys.argv[2] if len(sys.argv) > 2 else "v1"
data = open(path, "rb").read()

def header(at):
    magic, lid, origin, start, seq = struct.unpack_from("<8sQQQQ", data, at)
    return (seq, origin, start) if magic in (b"BPTWAL02",) else None
hs = [h for h in (header(0), header(512)) if h]
seq, origin, start = max(hs)
pos = 1024 + (start - origin)
lsn = start

parts = collections.Counter()      # bytes by part
kinds = collections.Counter()      # bytes by (kind, table)
kcount = collections.Counter()
types = collections.Counter()      # bytes by transaction type
tcount = collections.Counter()
nrec = 0

def varint(b, i):
    v = s = 0
    while True:
        x = b[i]; i += 1
        v |= (x & 0x7f) << s; s += 7
        if x < 0x80:
            return v, i

def txn_type(tabs):
    if ("put", "order") in tabs: return "new_order"
    if ("put", "history") in tabs: return "payment"
    if ("del", "new_order") in tabs: return "delivery (one district)"
    return "other:" + ",".join(sorted(f"{k} {t}" for k, t in tabs))

while pos + 16 <= len(data):
    crc, ln, rl = struct.unpack_from("<IIQ", data, pos)
    if ln < 18 or rl != lsn or pos + ln > len(data):
        break
    rec = data[pos:pos + ln]
    nrec += 1
    parts["record header (crc, len, lsn, op count)"] += 18
    i = 18; n = struct.unpack_from("<H", rec, 16)[0]
    tabs = set(); prev = b""
    for _ in range(n):
        o = i
        tag = rec[i]
        if fmt == "v1":
            page = struct.unpack_from("<I", rec, i + 1)[0]
            i += 5
            if tag == 2:
                kl, vl = struct.unpack_from("<HI", rec, i); i += 6; kind = "put"; hdr = 11
                key = rec[i:i+kl]; i += kl; i += vl; body = vl; el = 0
            elif tag == 3:
                kl = struct.unpack_from("<H", rec, i)[0]; i += 2; kind = "del"; hdr = 7
                i += kl; body = 0; el = 0
            elif tag == 6:
                kl, vl, el = struct.unpack_from("<HII", rec, i); i += 10; kind = "patch"; hdr = 15
                i += kl; j = i; i += el; body = el
                k = 0; eh = 0
                while j + k < i:
                    off, l = struct.unpack_from("<HH", rec, j + k); k += 4 + l; eh += 4
                parts["patch edit headers (off, len)"] += eh; body -= eh
            else:
                raise SystemExit(f"unexpected tag {tag}")
            parts["op headers (tag, table, lengths)"] += hdr
            parts["keys"] += kl
        else:
            # v2 (logb32): tag (9 put, 10 del, 11 patch) | table varint | shared varint | suffix len varint |
            # put: vlen varint | patch: vlen varint, elen varint | suffix | value, or edits (gap, len varints, bytes)
            i += 1
            page, i = varint(rec, i)
            shared, i = varint(rec, i)
            kl, i = varint(rec, i)
            kind = {9: "put", 10: "del", 11: "patch"}[tag]
            if tag == 9:
                vl, i = varint(rec, i)
            elif tag == 11:
                vl, i = varint(rec, i); el, i = varint(rec, i)
            parts["op headers (tag, table, lengths)"] += i - o
            i += kl
            parts["keys"] += kl
            if tag == 9:
                i += vl; body = vl
            elif tag == 10:
                body = 0
            else:
                j = i; i += el; eh = 0
                while j < i:
                    j0 = j; _, j = varint(rec, j); l, j = varint(rec, j); eh += j - j0; j += l
                parts["patch edit headers (off, len)"] += eh; body = el - eh
        tname = TABLES[page] if page < len(TABLES) else str(page)
        tabs.add((kind, tname))
        parts["row bytes (put values, patch data)"] += body
        kinds[(kind, tname)] += i - o; kcount[(kind, tname)] += 1
    assert i == ln, (i, ln)
    t = txn_type(tabs); types[t] += ln; tcount[t] += 1
    pos += ln; lsn += ln

total = sum(parts.values())
print(f"{path} ({fmt}): {nrec} records, {total} bytes, {total / max(nrec, 1):.1f} B/record")
print("\n| part | bytes a record | share |\n|---|---:|---:|")
for k, v in parts.most_common():
    print(f"| {k} | {v / nrec:.1f} | {100 * v / total:.1f}% |")
print("\n| op, table | ops a record | bytes an op | bytes a record |\n|---|---:|---:|---:|")
for (k, v) in sorted(kinds.items(), key=lambda kv: -kv[1]):
    print(f"| {k[0]} {k[1]} | {kcount[k] / nrec:.2f} | {v / kcount[k]:.1f} | {v / nrec:.1f} |")
print("\n| transaction | share of records | bytes a record |\n|---|---:|---:|")
for k, v in types.most_common():
    print(f"| {k} | {100 * tcount[k] / nrec:.1f}% | {v / tcount[k]:.1f} |")
