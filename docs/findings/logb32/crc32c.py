"""CRC-32C (Castagnoli, reflected, polynomial 0x82F63B78), as the logs' headers and records carry it
(crates/bufpool-btree/src/wal.rs uses the `crc32c` crate). Table-driven, pure Python: the scripts here read
test-sized logs, and a stdlib-only script needs no install."""

_TABLE = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _TABLE.append(_c)


def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c = _TABLE[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF
