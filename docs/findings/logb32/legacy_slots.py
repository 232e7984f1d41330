# The slots of a log as a legacy or a newer build wrote them, to check decode.py on them: each BPTWAL04 slot of SRC
# rewritten as the legacy slot of the same log (BPTWAL02 unbounded, BPTWAL03 bounded: `legacy()` in
# crates/bufpool-btree/tests/log_format_version.rs), or naming record format N (a newer build's), into OUT.
# usage: legacy_slots.py SRC OUT legacy|N
import struct, sys
from crc32c import crc32c
sys.argv, mode = sys.argv[:3], sys.argv[3]
src, out = sys.argv[1], sys.argv[2]
d = bytearray(open(src, "rb").read())
if d[:8] == b"BPTWAL05":
    # A log of the block layout (session 44: slots at 0 and 4096, records from 8192) as the same log of the sector
    # layout (slots at 0 and 512, BPTWAL04, base 7,168 bytes lower, records from 1024): `sectors_layout()` in
    # crates/bufpool-btree/tests/log_format_version.rs.
    out_d = bytearray(1024)
    for frm, to in ((0, 0), (4096, 512)):
        s = d[frm:frm + 128]
        if s[:8] == b"BPTWAL05":
            s[:8] = b"BPTWAL04"
            struct.pack_into("<Q", s, 40, struct.unpack_from("<Q", s, 40)[0] - 7168)
            struct.pack_into("<I", s, 60, crc32c(s[:60]))
            s[64:72] = bytes(8)  # the data file's name dropped: its checksum covers the magic (no append here)
        out_d[to:to + 128] = s
    d = out_d + d[8192:]
for at in (0, 512):
    s = d[at:at + 128]
    assert s[:8] == b"BPTWAL04"
    if mode == "legacy":
        if struct.unpack_from("<Q", s, 48)[0] == 0:
            s[:8] = b"BPTWAL02"; s[40:64] = bytes(24); struct.pack_into("<I", s, 40, crc32c(s[:40]))
        else:
            s[:8] = b"BPTWAL03"; s[56:64] = bytes(8); struct.pack_into("<I", s, 56, crc32c(s[:56]))
    else:
        struct.pack_into("<I", s, 56, int(mode)); struct.pack_into("<I", s, 60, crc32c(s[:60]))
    d[at:at + 128] = s
open(out, "wb").write(d)
