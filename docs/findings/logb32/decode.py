#!/usr/bin/env python3
"""Decodes a bufpool-btree log (`crates/bufpool-btree/src/wal.rs`, "File format") and counts its bytes by part, by
op kind and table, and (a TPC-C transaction log, txn.log) by transaction type.

usage: decode.py LOG [main|logb32] [--tree] [--crc]
  main (or v1, the default): the record format of main's wal.rs, every op of tags 1 to 12 (`IMAGE` .. `WRITTEN`,
      `TAKING`, and the short row ops `PUT_S`, `DEL_S`, `PATCH_S` of session 41; `LOG_FORMAT` 1).
  logb32 (or v2): the branch logb32's compact ops (tags 9 put, 10 del, 11 patch, varint fields), never merged:
      its tags 9 to 11 mean other ops in main's logs.
  --tree: a tree's own log (`tree.wal`; TPC-C's `<table>.wal`): ops by kind only (a page is a page number, not a
      table), no transaction types.
  --crc: check each record's CRC-32C too (pure Python: a 67 MB tree log took 14 s against 1.6 s without, here);
      without it a record is taken as long as its length and start LSN are where the previous one ended and its ops
      decode to its end.
Checked (session 43, tidy43): on a TPC-C txn.log and tree logs the bench wrote (`bufpool bench --workload tpcc
--smoke --tpcc-db DIR`, then a run on a copy SIGKILLed after 2 s of samples, as killrun.sh does), and on the logs
`all_ops.rs` writes (their headers also as legacy slots, and naming a newer format: `legacy_slots.py`), whose
record counts, LSN ranges and ops by kind match `TreeWal::scan`'s (RELIABILITY.md,
"Session 43 (2026-12-06, tidy43)").
Headers: `BPTWAL05` (session 44, the block layout: slots at bytes 0 and 4096, records from 8192, the fields of
`BPTWAL04`), `BPTWAL04` (session 42: base, region length and record format; slots at 0 and 512, records from
1024), and the legacy `BPTWAL02` (unbounded) and `BPTWAL03` (bounded) that every log before session 42 has (at 0
and 512); each slot's CRC-32C is checked, a slot counts only where its layout puts one (byte 0, 512 for the
sector layout's magics, 4096 for `BPTWAL05`), and the valid slot with the higher sequence is the one in force, as
`TreeWal`'s open picks it. A format above 1 or an unknown `BPTWAL` magic is refused, as the open refuses it (at
byte 4096 only when slot 0 is not of the sector layout, whose records lie there)."""
import struct, sys, collections
from crc32c import crc32c

TABLES = ["warehouse", "district", "customer", "customer_name", "history", "new_order", "order",
          "order_customer", "order_line", "item", "stock"]
LOG_HDR = 1024          # the sector layout's header region (BPTWAL02's base)
SLOT_AT = (0, 4096, 512)  # slot 0; the block layout's slot 1; the sector layout's slot 1
SECTOR_MAGICS = (b"BPTWAL02", b"BPTWAL03", b"BPTWAL04")
LOG_FORMAT = 1
PREFIX_PAGES = 16
NAMES = {1: "IMAGE", 2: "PUT", 3: "DEL", 4: "SPLIT", 5: "INNER", 6: "PATCH", 7: "CUT", 8: "WRITTEN",
         9: "TAKING", 10: "PUT_S", 11: "DEL_S", 12: "PATCH_S"}
ROW = {"PUT": "put", "PUT_S": "put", "DEL": "del", "DEL_S": "del", "PATCH": "patch", "PATCH_S": "patch"}

args = [a for a in sys.argv[1:] if not a.startswith("--")]
flags = {a for a in sys.argv[1:] if a.startswith("--")}
if not args or flags - {"--tree", "--crc"}:
    raise SystemExit(__doc__)
path = args[0]
fmt = {"v1": "main", "main": "main", "v2": "logb32", "logb32": "logb32"}[args[1] if len(args) > 1 else "main"]
tree_log = "--tree" in flags
data = open(path, "rb").read()

def slot(at):
    """(seq, origin, start, base, region_len, format, magic) of the slot at `at`, or None if not valid."""
    h = data[at:at + 128]
    if len(h) < 64:
        return None
    magic = h[:8]
    lid, origin, start, seq = struct.unpack_from("<QQQQ", h, 8)
    if magic == b"BPTWAL02":
        ok, base, region_len, form = struct.unpack_from("<I", h, 40)[0] == crc32c(h[:40]), LOG_HDR, 0, 0
    elif magic == b"BPTWAL03":
        base, region_len = struct.unpack_from("<QQ", h, 40)
        ok, form = struct.unpack_from("<I", h, 56)[0] == crc32c(h[:56]), 0
    elif magic in (b"BPTWAL04", b"BPTWAL05"):
        if (at == 512 and magic == b"BPTWAL05") or (at == 4096 and magic != b"BPTWAL05"):
            return None
        base, region_len, form, crc = struct.unpack_from("<QQII", h, 40)
        ok = crc == crc32c(h[:60]) and form >= 1
        if ok and form > LOG_FORMAT:
            raise SystemExit(f"slot at {at}: record format {form}, newer than {LOG_FORMAT}: not read")
    elif magic.startswith(b"BPTWAL"):
        if at == 4096 and data[:8] in SECTOR_MAGICS:
            return None  # records of a log of the sector layout
        raise SystemExit(f"slot at {at}: {magic!r}, a layout newer than BPTWAL05: not read")
    else:
        return None
    if at != 0 and magic != b"BPTWAL05" and at == 4096:
        return None
    return (seq, origin, start, base, region_len, form, magic.decode()) if ok else None

slots = [slot(at) for at in SLOT_AT]
for at, s in zip(SLOT_AT, slots):
    print(f"slot at {at}: " + ("not valid" if s is None else
          "{6} format {5}, seq {0}, origin {1}, start {2}, base {3}, region_len {4}".format(*s)))
if not any(slots):
    raise SystemExit("no valid header slot")
seq, origin, start, base, region_len, form, magic = max(s for s in slots if s)
pos = base + (start - origin)
end = min(base + region_len, len(data)) if region_len else len(data)
lsn = start

parts = collections.Counter()      # bytes by part
kinds = collections.Counter()      # bytes by (kind, table)
kcount = collections.Counter()
types = collections.Counter()      # bytes by transaction type
tcount = collections.Counter()
nrec = 0
stop = "the end of the region" if region_len and end == base + region_len else "the end of the file"

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

class Malformed(Exception):
    pass

def take(rec, i, n):
    if i + n > len(rec):
        raise Malformed("an op past the record's end")
    return i + n

def main_op(rec, i, last):
    """Decodes main's op at `i`: (kind, page, end, {part: bytes}); `last` holds each page's last row key
    (`Prefixes` in wal.rs: the first PREFIX_PAGES pages a row op names in the record)."""
    tag = rec[i]
    kind = NAMES.get(tag)
    if kind is None:
        raise Malformed(f"op tag {tag}")
    p = collections.Counter()
    key = None
    if tag >= 10:
        page, shared, rest = rec[i + 1], rec[i + 2], rec[i + 3]
        j = i + 4
        vl = el = 0
        if tag == 10:
            vl = struct.unpack_from("<H", rec, j)[0]; j += 2
        elif tag == 12:
            vl, el = struct.unpack_from("<HH", rec, j); j += 4
        p["op headers (tag, table, lengths)"] += j - i
        if shared and (page not in last or shared > len(last[page])):
            raise Malformed(f"{kind} shares {shared} bytes of a key its page {page} has not got")
        k = take(rec, j, rest)
        key = (last[page][:shared] if shared else b"") + rec[j:k]
        p["keys"] += rest
        body = vl if tag == 10 else el
        e = take(rec, k, body)
        eh = edit_headers(rec, k, e) if tag == 12 else 0
        if eh:
            p["patch edit headers (off, len)"] += eh
        p["row bytes (put values, patch data)"] += body - eh
    else:
        page = struct.unpack_from("<I", rec, i + 1)[0]
        j = i + 5
        if tag == 1:
            ln, off, hole = struct.unpack_from("<III", rec, j); j += 12
            p["op headers (tag, table, lengths)"] += j - i
            e = take(rec, j, ln - hole)
            p["page images (bytes outside the hole)"] += ln - hole
        elif tag in (2, 4):
            if tag == 4:
                j += 4                                      # the right page
            kl, vl = struct.unpack_from("<HI", rec, j); j += 6
            p["op headers (tag, table, lengths)"] += j - i
            k = take(rec, j, kl); e = take(rec, k, vl)
            key = rec[j:k]
            p["keys"] += kl; p["row bytes (put values, patch data)"] += vl
        elif tag in (3, 5, 7):
            if tag != 3:
                j += 4                                      # the child, or the right page
            kl = struct.unpack_from("<H", rec, j)[0]; j += 2
            p["op headers (tag, table, lengths)"] += j - i
            e = take(rec, j, kl)
            key = rec[j:e] if tag == 3 else None
            p["keys"] += kl
        elif tag == 6:
            kl, vl, el = struct.unpack_from("<HII", rec, j); j += 10
            p["op headers (tag, table, lengths)"] += j - i
            k = take(rec, j, kl); e = take(rec, k, el)
            key = rec[j:k]
            eh = edit_headers(rec, k, e)
            p["keys"] += kl; p["patch edit headers (off, len)"] += eh
            p["row bytes (put values, patch data)"] += el - eh
        else:                                               # WRITTEN lsn u64, TAKING pages u32
            e = take(rec, j, 8 if tag == 8 else 4)
            p["notes (WRITTEN, TAKING)"] += e - i
    if tag in (2, 3, 6, 10, 11, 12):
        if page in last:
            last[page] = key
        elif len(last) < PREFIX_PAGES:
            last[page] = key
    return kind, page, e, p

def edit_headers(rec, j, e):
    """Bytes of `offset u16 | len u16` headers in the edits at rec[j:e]."""
    eh = 0
    while j < e:
        _, l = struct.unpack_from("<HH", rec, j); j += 4 + l; eh += 4
    if j != e:
        raise Malformed("a patch's edits past their length")
    return eh

def logb32_op(rec, i):
    # logb32: tag (9 put, 10 del, 11 patch) | table varint | shared varint | suffix len varint |
    # put: vlen varint | patch: vlen varint, elen varint | suffix | value, or edits (gap, len varints, bytes)
    o = i
    tag = rec[i]
    i += 1
    page, i = varint(rec, i)
    shared, i = varint(rec, i)
    kl, i = varint(rec, i)
    kind = {9: "put", 10: "del", 11: "patch"}[tag]
    if tag == 9:
        vl, i = varint(rec, i)
    elif tag == 11:
        vl, i = varint(rec, i); el, i = varint(rec, i)
    p = collections.Counter()
    p["op headers (tag, table, lengths)"] += i - o
    i += kl
    p["keys"] += kl
    if tag == 9:
        i += vl; body = vl
    elif tag == 10:
        body = 0
    else:
        j = i; i += el; eh = 0
        while j < i:
            j0 = j; _, j = varint(rec, j); l, j = varint(rec, j); eh += j - j0; j += l
        p["patch edit headers (off, len)"] += eh; body = el - eh
    p["row bytes (put values, patch data)"] += body
    return kind, page, i, p

while pos + 18 <= end:
    crc, ln, rl = struct.unpack_from("<IIQ", data, pos)
    if ln < 18 or rl != lsn or pos + ln > end:
        stop = f"LSN {lsn}: no record starts there (len {ln}, start {rl})"
        break
    rec = data[pos:pos + ln]
    if "--crc" in flags and crc != crc32c(rec[4:]):
        stop = f"LSN {lsn}: the record's CRC-32C fails"
        break
    n = struct.unpack_from("<H", rec, 16)[0]
    i = 18
    tabs = set()
    last = {}
    rparts = collections.Counter({"record header (crc, len, lsn, op count)": 18})
    rkinds = []
    try:
        for _ in range(n):
            o = i
            kind, page, i, p = main_op(rec, i, last) if fmt == "main" else logb32_op(rec, i)
            rparts.update(p)
            tname = "" if tree_log else TABLES[page] if page < len(TABLES) else str(page)
            tabs.add((ROW.get(kind, kind), tname))
            rkinds.append(((kind, tname), i - o))
        if i != ln:
            raise Malformed(f"{ln - i} bytes past its {n} ops")
    except (Malformed, struct.error, IndexError, KeyError) as e:
        stop = f"LSN {lsn}: a malformed record ({e})"
        break
    nrec += 1
    parts.update(rparts)
    for k, b in rkinds:
        kinds[k] += b; kcount[k] += 1
    if not tree_log:
        t = txn_type(tabs); types[t] += ln; tcount[t] += 1
    pos += ln; lsn += ln

total = sum(parts.values())
print(f"{path} ({magic} format {form}, read as {fmt}'s ops): {nrec} records, LSN {start} to {lsn}, {total} bytes, "
      f"{total / max(nrec, 1):.1f} B/record; stopped at {stop}")
if not nrec:
    raise SystemExit(0)
print("\n| part | bytes a record | share |\n|---|---:|---:|")
for k, v in parts.most_common():
    print(f"| {k} | {v / nrec:.1f} | {100 * v / total:.1f}% |")
print("\n| op, table | ops a record | bytes an op | bytes a record |\n|---|---:|---:|---:|")
for (k, v) in sorted(kinds.items(), key=lambda kv: -kv[1]):
    print(f"| {k[0]} {k[1]} | {kcount[k] / nrec:.2f} | {v / kcount[k]:.1f} | {v / nrec:.1f} |")
if not tree_log:
    print("\n| transaction | share of records | bytes a record |\n|---|---:|---:|")
    for k, v in types.most_common():
        print(f"| {k} | {100 * tcount[k] / nrec:.1f}% | {v / tcount[k]:.1f} |")
