//! The tree's redo log: record format, group commit, the pool's [`bufpool::Wal`] hook, checkpoint truncation and
//! the scan used by recovery.
//!
//! Owns the log file and the LSN space. An LSN is a byte position in one logical, ever-growing stream; a page's
//! LSN is the *end* of the last record that changed it, so `flush_to(page_lsn)` makes exactly that record durable.
//!
//! # File format
//! ```text
//! two header slots, at byte 0 and byte 4096 (different 4 KiB blocks: a torn or garbled header write leaves the
//! other one; "The block layout"):
//!   magic "BPTWAL05" | log_id u64 | origin u64 | start u64 | seq u64 | base u64 | region_len u64 |
//!   format u32 | crc32c(bytes 0..60) u32
//!   the valid slot with the higher seq is the header (the slot in force), and a cut writes the other one;
//!   `origin` is the LSN at byte `base` (LOG_HDR, 8192, but in a bounded log's second region, or an unbounded log
//!   on a storage moved to this layout in place, where its records lie), `start` the first
//!   LSN recovery reads (the last checkpoint's redo point), `log_id` names this log for its tree's meta page,
//!   `region_len` a bounded log's region (0: unbounded), `format` the record format (`LOG_FORMAT`: "The format
//!   version"); slots of the sector layout (sessions before 44: at bytes 0 and 512, records or a bounded log's
//!   first region from 1024): "BPTWAL04" (the fields above), written only into such a log this build cannot move
//!   ("The block layout"), and the legacy ones, read and never written: "BPTWAL02" (unbounded: the fields to
//!   `seq`, then crc32c(bytes 0..40) u32) and "BPTWAL03" (bounded: to `region_len`, then crc32c(bytes 0..56) u32)
//!   at byte 64 of a slot (any layout), if its tree named it: data_file u32 | crc32c(data_file, then slot
//!   bytes 0..40) u32,
//!   the identity of the data file the log serves (`TreeWal::data_file`, R33-20); zeroes name none, and a build
//!   before session 33 reads a slot's checksummed fields only, so it opens such a log as before; its cuts write
//!   64-byte slots and leave these bytes, whose checksum over the new fields then fails: naming none
//! records from byte `base` (8192, or as above); the record starting at LSN l sits at byte
//! base + (l - origin):
//!   crc32c u32 (over bytes 4..len) | len u32 (whole record) | start_lsn u64 | op_count u16 | ops...
//! op: tag u8 | page_no u32 | body
//!   IMAGE (1): image_len u32 | hole_off u32 | hole_len u32 | image bytes outside the hole (hole = zeros)
//!   PUT   (2): klen u16 | vlen u32 | key | value          (leaf upsert, physiological)
//!   DEL   (3): klen u16 | key                             (leaf delete, physiological)
//!   SPLIT (4): right u32 | klen u16 | vlen u32 | key | value
//!              (leaf split: `node::split_leaf` of the page after upserting the pair, the page keeping its lower
//!              half; physiological, so the record holds the pair instead of the page; the new right page is
//!              logged beside it as an image)
//!   INNER (5): child u32 | klen u16 | separator            (inner-node insert of a separator, physiological)
//!   PATCH (6): klen u16 | vlen u32 | elen u32 | key | edits
//!              (bytes of a value overwritten in place: the value of `key` is `vlen` bytes long, and `edits`, a
//!              run of `offset u16 | len u16 | bytes`, overwrites parts of it; [`encode_edits`] (a diff),
//!              [`encode_ranges`] (named bytes), [`apply_edits`]. Logged by a layer above the trees, never by a
//!              tree: the transaction log, whose `page_no` is a table. A byte overwrite is idempotent, as a `PUT`
//!              is; what replaying one needs of the row is the caller's argument: `bufpool-cli`'s `tpcc/ours.rs`)
//!   CUT   (7): right u32 | klen u16 | separator
//!              (the left half of a leaf split in a tree that takes covered changes: the leaf keeps its entries
//!              below the separator, which becomes its high fence, and links to `right`; `node::cut_leaf`.
//!              Physiological; the right half is logged beside it as an image. See "Splits under a log above")
//!   WRITTEN (8): lsn u64
//!              (not a change: a checkpoint's note that the data file holds the page at least that new: the
//!              pool wrote it at `lsn` before the cut; `Tree::note_cut`, "Dropped writes")
//!   TAKING (9): pages u32
//!              (not a change: a bulk load's note, appended before it takes the next `pages` pages from the pool,
//!              `page_no` being the data file's page count then; replay may add that many more zeroed pages
//!              past the file's end: "A bulk load's pages in the log")
//! short row ops (since session 41: `PUT`, `DEL` and `PATCH` whose page and key length fit a byte and value and
//! edits 64 KiB; "Short row ops" below), with no `page_no u32` after the tag:
//!   PUT_S   (10): page u8 | shared u8 | rest u8 | vlen u16 | key's last `rest` bytes | value
//!   DEL_S   (11): page u8 | shared u8 | rest u8 | key's last `rest` bytes
//!   PATCH_S (12): page u8 | shared u8 | rest u8 | vlen u16 | elen u16 | key's last `rest` bytes | edits
//!              (the key is the first `shared` bytes of the key of the record's last row op on the same page,
//!              then the `rest`)
//! ```
//! One record is one atomic change: all its ops are redone, or (torn or missing tail) none. A structure change
//! (split, merge) is one record of full page images, except that a leaf split logs the split leaf as a `SPLIT`
//! op and the parent that absorbs the separator as an `INNER` op (about 300 bytes for a split instead of about
//! 7 KiB; in a tree that takes covered changes the split leaf is a `CUT` op or an image: "Splits under a log above"); a leaf change is one `PUT`/`DEL` op. Any physiological op (`PUT`, `DEL`, `SPLIT`, `INNER`, `CUT`) is logged
//! as a full image of its page instead if the page was last changed before the latest checkpoint's redo point
//! (PostgreSQL's full-page writes, so a page torn by a crash mid-write could be rebuilt from the log alone).
//!
//! # Short row ops (`PUT_S`, `DEL_S`, `PATCH_S`; session 41, bytes41)
//! The transaction log above TPC-C's trees logs a row op per row a transaction writes, with a table for a page:
//! about 18 a record, keys of 2 to 15 bytes, values of 0 to 660. The long forms gave each 11 (`PUT`) to 15
//! (`PATCH`) bytes of fixed fields and its key whole: 234 of the 827 bytes of records a transaction, and the
//! keys 125 more, of which 68 repeat the start of the previous key of the same table in the record (a New-Order's
//! order lines share 7 of their 8 bytes, its STOCK rows the warehouse). So `encode_record` logs each row op that
//! fits (page and key length a byte, value and edits at most 64 KiB) in its short form: 5 (`PUT_S`), 3
//! (`DEL_S`) or 7 (`PATCH_S`) bytes of fixed fields after the tag, and its key as the length of the prefix it
//! shares with the last key a row op of its page named earlier in the record (long or short), then the rest
//! (`Prefixes`, the first [`PREFIX_PAGES`] pages of a record; keys of later ones whole). Measured on TPC-C at 2
//! threads: 650 bytes of records a transaction against 827 (BENCHMARKS.md, "Session 41"); the records' fsyncs
//! through the zeroed tail write fewer zeros with them. A record's ops decode in order, so the prefix is always
//! known; a short op naming a prefix its page has no key for, or longer than that key, is malformed (the
//! record's end, as any). A tree's own ops fit only on pages below 256 (a small tree's): the same form, the same
//! replay. The encoder (since session 43, perf43) finds a page's last key with one scan of the record's pages
//! (`Prefixes::replace`) and counts the shared prefix a word at a time (`shared_prefix`): the same bytes as
//! session 41's two scans and byte loop (tests `*_encode_as_session_41s_encoder_did`), about 0.9 K instructions
//! a TPC-C transaction fewer (BENCHMARKS.md, "Session 43"). `check_record` still counts the long forms (an upper bound: what an append reserves). Old logs: a
//! build of this session reads the long forms as before (every log written before opens); a build before it
//! reads a short op as malformed, so the log's end (and `open` cut it there, as with `WRITTEN` before R21-10).
//! Since session 42 the header says so, and such a build refuses the log instead: "The format version".
//!
//! # The format version (session 42, L41-O1 in RELIABILITY.md)
//! A record that does not decode is the log's torn end, and the open cuts the log there (a crash's tail must
//! go). So a build that meets an op it does not know (session 41's `TAKING` and short ops, to a build before it)
//! cuts every committed record from that one on, silently. The header therefore names the record format: every
//! slot this build writes is `BPTWAL04`, whose `format` is [`LOG_FORMAT`] (1: the ops of tags 1 to 12 above); a
//! build that adds an op or changes one's bytes writes the next number, and a layout change takes a new magic.
//! - **A newer log.** An open that finds, in either slot, a valid `BPTWAL04` slot of a format above its own, or a
//!   slot starting with `BPTWAL` and a magic it does not know, refuses the log ([`Error::LogFormat`]) before it
//!   reads a record or writes a byte. Either slot, not only the one in force: a newer build may have been
//!   stopped between its two slot writes (below), and no slot's sequence outranks a format one cannot read.
//! - **An older build** (before session 42) knows neither the magic nor the layout: both slots of a `BPTWAL04`
//!   log are invalid to it, so it refuses the log ("no valid log header ... nothing was opened or changed"; a
//!   log of one header region too, since a `BPTWAL04` slot is not what its new-log header write could leave).
//!   Checked across builds: `fe784b6` and `a7933b7` refuse logs of this build, files unchanged.
//! - **A legacy log** (`BPTWAL02`, `BPTWAL03`: every log written before session 42, session 41's short ops
//!   among its records maybe) reads as format 0, whose ops this build reads all. Its open rewrites the header
//!   before it returns (`TreeWal::upgrade_header`): cuts that drop nothing, each writing the slot not in force at
//!   the next sequence, synced (so the slot in force is durable while the other is written: R43-1). Not
//!   left for the next cut: records of this build appended before it (short ops, notes) would sit under a header
//!   an older build reads, and a cut writes one slot only, the other staying legacy with an earlier start whose
//!   records a punch may have zeroed. A crash between the two writes leaves a legacy slot, but no record of this
//!   build yet; the next open finishes. The cost: one slot write and one fsync more than any open's (the open's
//!   own slot write, `secure_header`, is the first), once per legacy log. A failed write or fsync of a slot puts
//!   its old bytes back, so the slot reads legacy again, as the device holds it, and the next open upgrades it
//!   (R42-3: left readable in this build's layout, it made a reopen in the same process take the log for
//!   upgraded; R43-1).
//!
//! # The block layout (session 44, R44-1 in RELIABILITY.md)
//! The two slots exist so that a power loss during one slot's write leaves the other. Until session 44 they were
//! at bytes 0 and 512, and a log's records (a bounded log's first region) began at 1024: one 4 KiB block. Through
//! a file system every write goes through the page cache, whose write-back writes a dirty page whole, so every slot
//! write (and every write of records ending in that block) put both slots' sectors in flight; a device that does
//! not write 4 KiB atomically (a 512e drive, many virtual disks; PostgreSQL keeps `pg_control` in one sector and
//! SQLite's journal pads to its sector size for the same reason) could garble both, and the log no longer opened
//! (`FaultyStorage::crash_garbling_blocks`; tests `block_power_loss.rs`, `header_rewrite_power_loss.rs`). Now slot
//! 0 is at byte 0, slot 1 at 4096 and records start at 8192 ([`LOG_HDR`]): no write of one touches another's
//! block. The magic says which layout a slot is of ([`Layout`]): `BPTWAL05` the block layout, any other the
//! sector layout; a slot counts only where its layout puts one (byte 512 holds no slot in the block layout, byte
//! 4096 records in the sector layout).
//! - **A log of the sector layout** (every log before session 44) opens with every record and is moved to the
//!   block layout by its open when that needs no write into a block that holds the slot in force or a record it
//!   names: a **log file** by its rewrite (`TreeWal::rewrite`: its records copied into `<name>.tmp` under a new
//!   header region, synced, renamed over the log, the directory synced; the old file is never written, and the
//!   rename is atomic); an **unbounded log on a storage** in place (`TreeWal::move_to_blocks`), when its records lie
//!   at byte 8192 or later (named where they are) or below 4096 (copied to 8192 and synced): the open's slot write
//!   (`secure_header`) then goes to byte 4096, a block holding nothing live, while the slot in force stays durable
//!   in the first block, and `upgrade_header` then writes slot 0 with zeros over the old slot at 512 (one write,
//!   one block), synced, while slot 1 is in force. A power loss at either write leaves the other block whole: the
//!   old layout before the first is durable, the new one after it. Otherwise (a **bounded** log, whose regions
//!   would move and shrink by 7 KiB, or an unbounded one whose records lie in the second block) the log stays in
//!   the sector layout, its slot writes as before session 44 (R44-O1), and a later open moves it once a
//!   checkpoint has cut it past byte 8192 (unbounded). So does a log file whose rewrite is refused before its
//!   rename (no room for the copy: R45-2): it opens in place, as before session 44, and a later open moves it.
//! - **Costs.** A new log's header region is 8 KiB (was 1 KiB): the same one write and fsync. Opens and cuts of
//!   a log in the block layout write and sync what they did before (one 128-byte slot). Moving a log costs, once:
//!   a log file, the copy of its records and two fsyncs (file, directory) instead of the open's record rewrite,
//!   slot write and their two; a storage, the open's own plus one slot write and fsync (as a legacy log's upgrade),
//!   and a copy with its fsync for a young log. Appends are unchanged.
//! - **Older builds.** A build of sessions 42 and 43 finds `BPTWAL05` at byte 0 (or nothing valid at 512) and
//!   refuses the log as a newer build's ([`Error::LogFormat`]); an older one finds no valid slot and refuses it.
//!
//! # Splits under a log above (`CUT`, issue 15's log-bytes pass)
//! A tree that takes covered changes cannot log a leaf split as `SPLIT` (replayed, `split_leaf` would meet the
//! leaf without the covered changes the layer above redoes later, and might choose another separator than the
//! one the parent and the right half were logged with). Until issue 15's log-bytes pass it logged the leaf's
//! full image: about 4 KiB for each split at the end of an ascending run (TPC-C's order lines, orders, history),
//! whose left half keeps every old entry. Now it logs `CUT` (the separator and the new link, tens of bytes),
//! which `node::cut_leaf` redoes on whatever the recovered leaf holds: its entries below the separator stay,
//! the rest go (they moved right, or are covered changes the layer above redoes), and the fences and link are
//! the split's. Redone over a leaf older than the split (page LSN below the record's), what it holds is some
//! state of the leaf between its last logged image or structure record and the split (a covered change raises
//! no LSN), plus none of the later ones; what is missing from it is in the log above from its redo point on
//! (ARCHITECTURE.md, "Cutting the upper log"). The one way the redo could fail is a leaf that does not fit
//! with the new high fence, which may be longer than the old one: impossible if no covered change removed
//! bytes from the leaf in between (a delete, a shorter value), because then the recovered leaf's entries below
//! the separator are a subset, each no longer, of the split's left half, which fitted. So the tree notes the
//! end of its log at each covered change that removes bytes (`Tree`'s `shrunk_at`, under the leaf's latch),
//! and logs a split's leaf as `CUT` only if the leaf's LSN is above that mark (its last record came after every
//! such change of any leaf); otherwise as its image, as before. An uncovered leaf change in such a tree (a
//! `PUT`, a `DEL`) follows the same rule, since its redo meets the same leaf: an op above the mark, the leaf's
//! image at or below it (R11-2 in RELIABILITY.md: a `PUT` redone into room that a covered delete had made only
//! in memory failed recovery). So every record of a leaf after such a change is an image until the next image,
//! and the entries' argument above holds at every op. Only a covered split is logged as `CUT`: an uncovered
//! split's own key is in no other log, so its leaf is an image (R11-1: a `CUT` lost it). As every physiological
//! op, `CUT` becomes an image if the leaf was last logged before the checkpoint's redo point (full-page writes).
//!
//! # Where the bytes live
//! - A **file** ([`TreeWal::open`]). Truncation (below) gives the space of the cut records back.
//! - Any [`Storage`] ([`TreeWal::open_storage`]), e.g. the pool's `FaultyStorage` in the crash simulation. A
//!   storage has no rename and no punch, so truncation writes a new header slot whose `start` is the redo point
//!   (the records stay where they are: the space is not given back), unless the log was made with a capacity
//!   ([`TreeWal::open_storage_with_capacity`]): then it keeps within it, in two regions ("A bounded log on a
//!   storage"). The storage must accept unaligned I/O (a memory or faulty storage, or a buffered `FileStorage`;
//!   not O_DIRECT).
//!
//! # A bounded log on a storage ([`TreeWal::open_storage_with_capacity`], R24-10 in RELIABILITY.md)
//! A storage has no punch and no rename, so until R24-10 its cut only wrote a header slot and the storage grew by
//! every byte ever appended: a tree on a fixed-size device filled it whatever its checkpoints did. A log opened
//! with a capacity keeps within it. Its header names `base` and `region_len` (nonzero; a legacy bounded log's slot
//! is `BPTWAL03`, "File format"): the storage past the header slots is two *regions* of
//! `region_len = (capacity - 8192) / 2` bytes, at bytes `8192` and `8192 + region_len` (1024 in the sector layout:
//! "The block layout"), and the slot in force names
//! the one that holds the log (`base`) and its `origin`; the record at LSN l sits at byte `base + (l - origin)`,
//! and never past the region's end (a write-out that would pass it is refused for space, as a full device's).
//! The capacity is kept in the header: [`TreeWal::open_storage`] on such a log finds it; a log made without one
//! (`region_len` 0, every file log) stays unbounded and cannot be opened with one.
//! - **The switch** (`switch_region`, the storage's form of the file's rewrite): a cut when the region in force
//!   is half full (or cannot take the buffered records) and the kept tail, from the redo point to the end of the
//!   appended log, fits in a region, copies the tail into the other region from its start (the bulk of it
//!   without `io`, what was written meanwhile under it), writes the buffered records after it there (never in
//!   the region in force), fsyncs, then writes the header slot not in force naming the other region with
//!   `origin = start = redo`, and fsyncs again. Atomic by the slot, exactly as the rewrite is by the rename:
//!   until that slot is durable the old one is in force, naming the old region, which the switch never writes;
//!   a torn slot is invalid and leaves the old one; after it, the new region holds every record from the redo
//!   point on, synced before the slot was written. `durable` moves only once the slot is durable (a commit that
//!   found its records durable earlier could lose them to a crash that kept the old slot: they are only in the
//!   new region). Other cuts write a header slot, as an unbounded storage's. The copy is at most a region,
//!   once per half region of log, and in a checkpoint that appends nothing meanwhile it is the checkpoint's own
//!   records (the meta page's image, the `WRITTEN` notes).
//! - **Stale records of the same origin.** A record is read only at the LSN its position names, so a region's
//!   bytes of an earlier life (another origin) never read as records of this one. Successful switches take
//!   strictly growing origins (a cut's redo point is past the log's start, which is at or past the origin of
//!   the region it leaves). But a switch that a crash (or an error) stopped before its slot left a copy of origin
//!   `redo` in the other region, and a later switch may take the same `redo` again (after a restart that lost the
//!   first attempt's unsynced records): that region's earlier copy past the later one's end would then read as
//!   records of it, records of a life that never was. So a region that may hold such a copy (the one not in force
//!   after an open, or one a switch failed in) is *stale*, and the next switch into it writes zeros over it past
//!   what it copies, before its first fsync. Opening a log zeroes its region in force after the last valid
//!   record up to the region's end (the invariant below), not the other region.
//! - **A full region.** Appends are refused ([`Error::NoSpace`], nothing appended) that would take the end of
//!   the appended log past three quarters of the region (counted from its origin, dead records included: only a
//!   switch gives them back), counting the records admitted and not yet appended: each append, and each change
//!   of a tree before it starts, reserves its record's length or its worst case (one page image for a leaf
//!   change, one per page for a structure change: `TreeWal::reserve`, `images_bound`) until it is appended.
//!   Until R25-O1 the check was per append, against the end before it: appenders at once, or one long record
//!   (a split cascading over many levels), could pass the quarter and the region's end. The quarter left is a
//!   checkpoint's, whose own appends (its meta page's image, its notes) pass that bound
//!   (`check_beyond_region`). So a checkpoint runs in that state: its page writes need only
//!   records that fit, its notes go to the other region with the switch, and its cut gives the region back. A
//!   caller that checkpoints by [`TreeWal::log_bytes`] at a quarter of a region never meets the bound (the
//!   tests' load runs more than eighty times the capacity so).
//! - **A log with a dependency** ([`TreeWal::flush_first`], R25-4 in RELIABILITY.md). Its tree's own changes
//!   are refused as above; its covered changes cannot be (their record is in the log above already, and the
//!   change must then not fail: `check_beyond_region`). So while it is past three quarters of its region it
//!   counts itself in the log above's `dependents_over` (as for its buffer, "A full device"), and the log
//!   above refuses appends ([`TreeWal::check`], [`TreeWal::append`]: [`Error::NoSpace`], naming a checkpoint)
//!   until the tree's checkpoint switches region. The covered changes whose record passed the check above
//!   meanwhile (a transaction's leaves, one image each at most, and its splits) take the quarter with the
//!   checkpoint. Until R25-4 nothing refused them: the records passed the region's end, the commit was refused
//!   for space, and so was every checkpoint (its pages need those records written) until a reopen.
//!   A replay of the log above (the caller's recovery) appends nothing there, so nothing refused its covered
//!   changes: their images overfilled the region and the checkpoint after the replay was refused for space at
//!   every open (R40-1). So a covered change that finds its tree's log past three quarters of its region
//!   checkpoints the tree first (`Tree::room_for_covered`, before any latch), which cuts the log; that also
//!   checks, leaf by leaf, a transaction that changes more leaves than the quarter holds (R25-O1 below; not
//!   tested apart).
//!   What is not bounded so: those covered changes (a transaction whose record passed the check above logs an
//!   image of each leaf it changes first since the checkpoint, and its splits: more than the quarter if it
//!   changes more than about a quarter of a region of leaves; R25-O1 in RELIABILITY.md; past the region's end
//!   the tree takes no commit nor checkpoint until a reopen), a record longer than a quarter of a region
//!   ([`REGION_MIN`] keeps tree records far below it), and a checkpoint's notes longer than a region (a pool
//!   whose written-LSN table holds more than about `region_len / 13` pages of the tree): its cut then writes a
//!   header slot and is refused for space when the region cannot take them.
//!
//! # Truncation ([`TreeWal::truncate_before`], the cut that ends a checkpoint)
//! The records before the checkpoint's redo point are dead; the live tail after it is large (a checkpoint's
//! distance, 100 MB and more in TPC-C). Until issue 15's truncation pass every cut of a file copied that tail into
//! a new file (read back, written, fsynced, renamed, all under `io`): in TPC-C in memory, as many bytes as the
//! log itself took. Now a cut of a file is, in order:
//! 1. **Header slot**: the buffered records (the checkpoint's notes among them) are written and fsynced, then the
//!    slot not in force gets `start = redo` (same `origin`) and a second fsync makes it durable (a storage's cut
//!    is this step alone). Never one fsync for both: a crash could keep the slot and lose the notes (R23-1).
//! 2. **Punch**: `fallocate(PUNCH_HOLE | KEEP_SIZE)` over the dead records, block-aligned, from the previous
//!    punch's end up to `redo`'s offset rounded down: their blocks go back to the file system, the file's length
//!    and every live offset stay. Only after step 1's fsync (a crash that left the old slot in force with its
//!    records punched would read zeros from its `start`, the end of the log, and cut everything after it), and
//!    without `io` (committers need it; `trunc` keeps truncations one at a time). A scan that reaches the punched
//!    bytes meanwhile refuses rather than take them for the log's end (R40-21).
//! 3. **Rewrite** instead of 1-2 when the file's logical length reaches [`REWRITE_LEN`] (and at least
//!    `REWRITE_TAIL_FACTOR` times the tail), or when the file system refused a punch (`EOPNOTSUPP`): the tail is
//!    copied to `<name>.tmp` (the whole name plus `.tmp`, so two logs whose names differ only in extension never
//!    share it; made anew, whatever was under that name removed, a symbolic link never followed; one a crash left is
//!    removed by the log's next open, R30-24) under a header with `origin = start = redo`, fsynced and renamed over the log. Offsets so stay
//!    bounded (a punched file keeps growing in length), at a copy of at most 1/7 of the bytes appended since the
//!    last rewrite. The bulk of the copy runs without `io`; only what was written to the old file meanwhile is
//!    copied under it, before the rename.
//!
//! A cut's failures: a failed header-slot write or fsync fails the log (as any write of it does); so do a failed
//! rename and a failed directory fsync after it (which file a crash leaves under the name is unknown). A failed
//! punch, or a rewrite failing to make, write or fsync its new file, touched only dead bytes or the new file: the
//! cut returns the error ([`Error::NoSpace`] if refused for space) and the log goes on (the new file removed), so a
//! full file system costs a checkpoint's cut, not every later commit. A header-slot write refused for space is
//! reported the same way ("A full device").
//!
//! # A file's zeroed tail (R31-1 in RELIABILITY.md)
//! An append changes a file's length, so the fdatasync that makes an appended record durable also commits a
//! file-system journal transaction (ext4, XFS) holding the new length. ext4 whose journal aborted during such an
//! fdatasync returned 0 while the length went with the aborted transaction: the commit was acknowledged, and
//! after recovery the file ended just before its record (R31-1: `tpcc_real_faults`' read-only case lost one
//! acknowledged New-Order about one run in ten, with `strace` showing the fdatasync's 0). PostgreSQL fills a WAL
//! segment with zeros before using it (`wal_init_zero`) for the same reason: an fdatasync of written, allocated
//! blocks is a data write and a cache flush, with no metadata to commit. So a write-out that fsyncs (a commit,
//! a flush for the pool's write-ahead rule, a cut) leaves at least [`GROW_STEP`]` / 2` bytes of zeros past its
//! records (`LogFile::zeroed`): when fewer lie there, [`TreeWal::grow`] writes zeros from its records' end to
//! the next multiple of the step a step further, before the write-out's fsync, which makes them durable with the
//! length. The next commits' records overwrite those zeros: their fsyncs change no length. The records that go
//! into a growth come half a step (tens of commits) after the fsync that made it durable; if that fsync was the
//! one an abort made lie, its own records were below the length already durable, and by the later ones ext4
//! refuses every fsync (it marks itself in error right after the abort). Write-outs that do not fsync (a
//! buffer past [`BUF_SOFT_MAX`], a tick's) write no zeros: their records extend the file as before, and a large
//! write-out runs past any zeros anyway; the exposure is back only where a write-out's own records pass the
//! durable length and it fsyncs (a commit longer than half a step, the first after such write-outs, one after a
//! growth refused for space), and that fsync acknowledges only what a crash may lose in the modes that do not
//! fsync each commit. Zeros are written a page (4 KiB) at a time: Linux sizes a page-cache folio by the write
//! that creates it, and a commit dirtying a few bytes of a 64 KiB folio had its fsync write the whole folio.
//!
//! Zeros read as the end of the log (a record header of length 0 is invalid), as a file's end does. An open
//! still cuts the file at its last valid record (stale records after it, and the zeroed tail with them), and the
//! first write-out that fsyncs grows it again; a rewrite's new file gets its zeroed tail with the copy, fsynced with it. A
//! storage has no length to change (a device's), or is the crash simulation's, and does not grow so. The cost:
//! [`GROW_STEP`] of zeros per step of records a log fsyncs through ([`TreeWal::grows`]), no fsync of its own.
//!
//! # A bulk load's pages in the log (`TAKING`, R41-20 in RELIABILITY.md)
//! Replay adds zeroed pages up to a page an image names past the data file's end, and refuses a log that would
//! leave more of them unfilled than a crashed tree's log can need (`Tree::check_growth`, R40-30: a log naming
//! page `u32::MAX` had replay add pages towards it). A bulk load takes its pages from the pool unlogged and
//! syncs them only before its switch record (`tree/bulk.rs`), so a power loss before the switch may drop all of
//! them while the image of a page a concurrent change took after them is durable: a valid log with a gap the size
//! of the load. So the load appends a `TAKING` note before it takes each run of `TAKING_PAGES` pages, and replay
//! adds each note's pages to its budget. The note needs no sync of its own: it was appended before the load took
//! its pages, so before any concurrent change's record of a page after them, and a log is durable as a prefix. A
//! checkpoint during the load may cut notes: the pages taken before its redo point were written and synced by it,
//! and those taken since under a note it cut are at most one run, within the least budget. A log with no note (a
//! build before session 41, or no bulk load) is replayed as before: R40-O30's case in such a log is still refused
//! (`LogMismatch`; opened in a pool with more frames than the gap, it recovers). A build before session 41 reads
//! a `TAKING` op as the log's torn end, as a build before R21-10 reads `WRITTEN`: it cuts the log there (a log
//! written by a build of session 41 since its last checkpoint, with a bulk load in it, is not for an older build;
//! since session 42 an older build refuses the log instead: "The format version").
//!
//! # Dropped writes (`WRITTEN`, R21-10 and R22-10 in RELIABILITY.md)
//! A device that acknowledges a page write and drops it (a firmware bug, a write-dropping dm target) leaves the
//! page's previous version, which verifies (checksum, page number, identity). While the log holds the page's
//! records, recovery redoes them over it (the page LSN is below theirs). Once a checkpoint cuts them, nothing
//! would: the stale page read as valid, silently (R20-O20). So before each cut the tree (`Tree::note_cut`)
//! appends, after the redo point, one `WRITTEN` op for each page the pool wrote at an LSN between the log's start
//! and the redo point, with that LSN, and for each page an earlier note named that no load or write has
//! confirmed in this open ([`bufpool::BufferPool::written_lsns`]), and the cut makes them durable before the header
//! that drops the records (R23-1: one fsync for both could keep the header and lose the notes). That covers every
//! page a cut record changed:
//! the checkpoint wrote it, or an eviction did since the cut before, at the LSN of its last record or later.
//! From memory: until R22-11 `TreeWal::note_cut_pages` read the cut records back from the log to learn their
//! pages (a checkpoint's distance of log at each cut). Recovery hands each note, and each replayed page's last
//! record, to the pool ([`bufpool::BufferPool::expect_lsn`]), which checks each page at its first load (until
//! R22-10 recovery read every noted page before the open returned): a page older is `Corrupt { StaleWrite }` at
//! every load, naming it; a cached copy older, or a page past the data file's end, refuses the open with
//! `Error::StalePage`. A drop of a write older than the log's start, made in the open of the last cut, of a page
//! not read nor changed since, is not caught; nor a covered change's (it raises no LSN); nor a drop of a page the
//! pool's table forgot, beyond its bound (`bufpool::Builder::stale_check_pages`, R23-10: the pool counts them in
//! `Stats::written_lsns_dropped`). The format is R21-10's
//! (no log format change in R22-10/11); a build before R21-10 reads a `WRITTEN` op as the log's torn end.
//!
//! # A full device (ENOSPC, EDQUOT; F13-1 in RELIABILITY.md)
//! A write of the buffered records that the device refuses for space returns [`Error::NoSpace`] and does not
//! fail the log (until F13-1 it did, and the log refused everything until a restart: P12-O1). The kernel
//! refused only what it did not take and dropped nothing (unlike a failed fsync, after which the dirty pages
//! may be gone: PostgreSQL's "fsyncgate"; every fsync error, and every other write error, still fails the log).
//! `write_locked` puts the records it took back in front of the buffer (`put_back`: the records appended
//! meanwhile start at their end, so the two are one run again), and the next write-out writes them from the
//! same offset. Why the log's invariants hold across it:
//! - **Order and LSNs.** Every record keeps the LSN it was given at its append, so the offset it is written
//!   at: a retry writes the same bytes at the same place, then what came after. Nothing is reordered,
//!   renumbered or dropped, and the LSNs stamped on pages stay true.
//! - **The landed prefix.** Some of the records (whole, and maybe a torn last one) may have reached the file
//!   past the written end. Until the retry they are not part of the log as far as anything here is concerned
//!   (`buf_start` still names the written end, which a rewrite copies up to and a punch stays below), and
//!   the retry overwrites them with themselves. A crash first finds, past the records written before, some
//!   of them whole and then a torn one or none: the same image as a crash during a write that would have
//!   succeeded, which recovery reads up to the last valid record and `open` cuts after. The records a crash
//!   may so keep were appended in order after everything before them: replayed, they are a prefix of the log.
//! - **The WAL rule.** `durable` advances only after an fsync that covered written records, so a page whose
//!   LSN is past it is not written: the pool's flush ([`bufpool::Wal`]) returns the error as
//!   [`bufpool::Error::WalNoSpace`] and the page stays dirty, to be written once space is back and its records are.
//! - **Dependencies.** A log whose dependency refused its flush for space puts its records back the same way
//!   (they must not be written before the dependency is durable that far, and are not).
//! - **Acknowledgement.** A commit that returns [`Error::NoSpace`] acknowledges nothing, but its records stay
//!   buffered: the next commit that succeeds makes them durable, a crash before it loses them (as any record
//!   not yet acknowledged). A caller that must not see them durable later (a transaction it reports as rolled
//!   back) must have its append refused instead: from [`BUF_HARD_MAX`] buffered bytes on, [`TreeWal::check`]
//!   and [`TreeWal::append`] try the write-out themselves and, refused for space, refuse the append (nothing
//!   appended), so a log without a dependency buffers at most that much, plus one record per appender, while
//!   the device is full. The bound counts the records a write-out has taken and not yet written (`unwritten`):
//!   until R22-1 it counted the buffer alone, which a write-out empties while it writes, so every append on
//!   another thread during a refused write-out passed, and the buffer grew past the bound without limit.
//! - **A dependent log's bound** (F15-1 in RELIABILITY.md). A dependent log's records come with changes first
//!   appended above, but not in proportion to them: a covered change on a leaf not logged since the redo point
//!   logs the leaf's whole image here (a page for a record of tens of bytes above), and checkpoints, which
//!   would end that, fail while the device is full. Its own appends cannot be refused (its tree checks it
//!   before a covered change whose record is already above, which must then not fail), so the log above
//!   refuses instead: while a dependent log holds more than [`BUF_HARD_MAX`] bytes, [`TreeWal::check`] and
//!   [`TreeWal::append`] of the log above try that log's write-out (the log above made durable first) and,
//!   refused for space, refuse the append with [`Error::NoSpace`] (nothing appended). A dependent log so
//!   buffers at most that much plus what the appends above that passed the check bring (a transaction's
//!   images, one per leaf it changes, per appender in flight). Until F15-1 it grew up to one image per leaf of
//!   its tree. Each dependent log counts itself in its dependency's `dependents_over` while past the bound, so
//!   an append above costs one atomic load otherwise.
//!
//! Why not fixed-size segments deleted whole (PostgreSQL's WAL files): the same space back, but a record would
//! have to be split across files or segments padded, a scan would open files in turn, and the header-slot cut
//! and its crash argument, which a `Storage` needs anyway, would not serve the file. A hole leaves one file,
//! one offset rule (`LOG_HDR + lsn - origin`) and one cut for both.
//!
//! # The append (issue 15, session 21)
//! Two appenders of one log (TPC-C's workers, each committing into the transaction log) meet on its `state`
//! mutex. Until session 21 an append took it twice (the buffer's length read by [`TreeWal::check`], then the
//! append), and encoded and checksummed its record under it, so the other worker waited that long and both
//! bounced its lines. Now [`TreeWal::append`] (`append_checked`):
//! 1. encodes the record into the thread's scratch buffer, without a lock;
//! 2. seals it (LSN and checksum: the checksum covers the LSN) for the LSN the log's end names now (`appended`,
//!    an atomic), still without a lock;
//! 3. takes `state` once: the record's LSN range is `next..next + len`, the record is copied into the buffer
//!    there, and `next` and `appended` move to its end. If `next` is not the LSN it was sealed for (another
//!    append came between 2 and 3), it is sealed again first, under the lock, as every record was before.
//!
//! The length checks ([`TreeWal::check`], [`TreeWal::write_out`]) read `buffered`, an atomic kept with the
//! buffer's length, and a commit reads `appended`: neither takes `state`. Only records sealed for their own LSN
//! enter the buffer, whole and in LSN order, under the same lock as before, so the write-out and everything
//! after it are as they were (a record is never written before one it follows: there is no window in which
//! a later record is in the buffer and an earlier one is not). What is not done: copying outside the lock
//! (PostgreSQL's WAL insertion locks, which reserve under a spinlock and copy into a shared ring under one
//! of eight insertion locks, the write-out waiting for the copies in flight) or per-worker buffers merged at
//! write-out (LeanStore, Aether); see BENCHMARKS.md, "The transaction log's append off the shared lock".
//! Appends whose ops are chosen by the checkpoint's redo point (a tree's leaf changes, full-page writes) still
//! encode under the lock, where that choice cannot race with a checkpoint.
//!
//! # The redo point against a covered change (issue 15, sessions 28 and 52)
//! A covered change ([`TreeWal::cover_leaf_checked`]) appends nothing unless its leaf was last logged at or before
//! the redo point; about 10 a TPC-C transaction append nothing. Each used to take `state` to read `redo_lsn`: two
//! locked writes of that lock's line (lock, unlock) for a compare, about 20 a transaction, on a line both workers
//! write at 2 threads (session 28 wrote this argument and timed it too noisily to keep it; session 52's profile
//! found the lock most of `Tree::log_leaf`'s time once its note's miss was prefetched).
//! The lock ordered a store-load race on two variables, which the common case now orders with a SeqCst fence on
//! each side, taking no lock and writing nothing shared:
//! - worker W (leaf L exclusively latched): `a` the latch, an RMW of L's frame state word (`Acquire`), L's
//!   dirty flag set under it; `F_w` = `fence(SeqCst)`; `r_w` = load of `redo_lsn`; skip the image if
//!   `page_lsn > r_w`; release (`swap`, `Release`).
//! - checkpoint C ([`TreeWal::begin_checkpoint`], then the pool's `dirty_pages` in `flush_files`): `s_c` = store
//!   of the new redo point R; `F_c` = `fence(SeqCst)`; `l_c` = load of L's state word (`Acquire`), then of its
//!   dirty flag; L is written by this checkpoint if it was latched exclusively or dirty.
//!
//! The promise: if W skipped the image for a leaf last logged at or before R (`r_w` read a redo point below R),
//! C writes L after W's change, so the cut at R drops no record L still needs. Proof: SeqCst fences are totally
//! ordered (C++20 [atomics.order], which Rust follows). If `F_c` precedes `F_w`, then `s_c` happens before `F_c`
//! and `F_w` before `r_w`, so `r_w` reads R or later: W logs the image. If `F_w` precedes `F_c`, then `a` happens
//! before `F_w` and `F_c` before `l_c`, so `l_c` reads `a` or a later value of the word: L latched by W (C
//! includes it and waits for the guard), or a value from W's release on (every later writer of the word latched
//! the frame after W: the release sequence of RMWs carries W's dirty flag, or a later write of L that holds
//! W's change, to `l_c`'s acquire). Either way not both a stale `r_w` and a missed L. The model is
//! `loom_redo_point_against_dirty_scan` in `bufpool`'s `frame.rs` (the real state word and dirty flag); without
//! either fence it fails. An image, when needed, is still appended under `state` (any image is safe: the redo
//! point only grows). `begin_checkpoint`'s store stays under `state`: an uncovered record's choice is made there
//! (above).
//!
//! # Torn pages: the doublewrite area (issue 15, session 57; R56-O1 in RELIABILITY.md)
//! Full-page writes exist for one reason: a page the pool was writing when the power failed may be torn, and a
//! torn page takes no physiological op. A tree opened with [`crate::TreeOptions::doublewrite`] has its data file
//! in the pool's doublewrite area instead (`bufpool`'s `doublewrite.rs`): every batch of pages the pool writes is
//! synced into the area before any of them is written in place, and the file's open restores, before anything
//! reads it, each page of the batches not yet covered by a sync that fails verification. So every page recovery
//! reads is one the pool wrote whole (or a page corrupt for another reason, refused as before). Then:
//! - **Ops over old pages.** A change to a leaf (or an inner node's `INNER`) last logged at or before the redo
//!   point is logged as its op, as one after it is: the page recovery meets is as the pool last wrote it, which
//!   holds every record up to its LSN (the WAL rule, and the checkpoint at the redo point wrote every page dirty
//!   then); the records after its LSN are in the log (the cut kept everything from the redo point on, and a page
//!   with records before it was written and synced by that checkpoint: a drop of that write is `WRITTEN`'s,
//!   unchanged). A page whose LSN is 0 (never logged: zeroes, or a freed page's old bytes) still takes an image.
//! - **Covered changes** log nothing at all (a leaf never logged still takes an image: the pool asks the WAL-rule
//!   flush, which waits for the log above, only for pages with an LSN). No stamp either: a page's LSN stays the
//!   end of its last record, which `shrunk_at` needs ("Splits under a log above": a `CUT` is logged only for a
//!   leaf whose last record came after every covered change that removed bytes; a stamp without a record would
//!   pass that test and the argument would not hold). With no image to choose, the fences of "The redo point
//!   against a covered change" order nothing here.
//! - **`CUT` over an old leaf.** The argument of "Splits under a log above" never used the image: the leaf
//!   recovery meets is some state of it between its last record and the split (now also when that record is
//!   older than the redo point, since the checkpoint wrote the leaf as of then), and the `shrunk_at` test is
//!   unchanged.
//! - **Replay's eager latch** (R47-30: every page replay meets made dirty, so the next checkpoint writes it again
//!   before the cut) held "under garbling as well, since a page replay meets has a full image after the redo
//!   point". With the area the rewrite goes through the area like every write, and a garbled copy of a page
//!   whose fsync had failed is restored by the next open from its batch (the area notes a batch done only after
//!   a sync of the data file that succeeded).
//! - **Opened the other way.** Either log opens either way: records are records. An area tree reopened without the
//!   area after a crash reads a torn page as corrupt (the open, if replay meets it, or the read fails, naming
//!   it) until it is opened with the area, which restores it: loud, and nothing lost.
//!
//! # Invariants
//! - Records are written to the file in LSN order: records enter the buffer in LSN order, each whole, under the
//!   `state` mutex, and every file write happens under the `io` mutex, which takes the buffered bytes in order.
//!   `durable` only grows and is set after an fsync covering it.
//! - Group commit: a committer waits for the `io` mutex; when it gets it, it first checks whether someone else's
//!   fsync already covered its LSN. One fsync serves every record appended before it started.
//! - After the first failed write or fsync of the log's file the log refuses everything (no retry after a failed
//!   fsync; a truncation's punch or new file are not the log's file: see "Truncation"), except a write refused
//!   for space, which keeps the records buffered and is retried ("A full device"). An append fails only if the
//!   log had failed before it, or its buffer is full and cannot be written for space, and then appends nothing:
//!   a caller that checks [`TreeWal::check`] before changing a page can log the change without a failure in
//!   between.
//! - Truncation keeps the tail from the checkpoint's redo LSN on, and switches to it atomically (a rename, or a
//!   header slot that is written whole or not valid), so a crash at any point leaves a valid log. Bytes are
//!   punched only below the `start` of the durable header slot in force, so a crash mid-punch, or one that
//!   leaves a torn slot (the other one, older, is then in force) never reaches a punched byte from `start` on.
//! - Opening a log cuts (or zeroes, on a storage) everything after the last valid record, so a record written
//!   later at the same LSN can never be followed by a stale record of an earlier life of the log. A bounded log
//!   zeroes its region in force to the region's end; the other region's records of the same origin (a stopped
//!   switch's) are zeroed by the next switch into it ("A bounded log on a storage").
//! - Opening a log counts the records it read as durable only after writing them again and syncing them: a
//!   record can be readable and not durable (a failed fsync's, which Linux keeps cached and marks clean, or an
//!   unsynced one of a process that crashed), and recovery writes pages at their LSNs with no further sync of the
//!   log (R39-2 in RELIABILITY.md). Only the 4 KiB blocks the device does not hold as read are written: the
//!   records are read a second time past the page cache ([`Storage::read_device_at`]; a storage whose reads may
//!   differ from its device must answer it), since a write of blocks the device holds put committed records in
//!   flight, which a power loss during the open garbled (R43-O2, fixed as R47-10). A log closed cleanly was cut
//!   to its end, so this costs nothing there; after a crash it costs a second sequential read of what recovery
//!   reads anyway, and a write of what the device lacks. The header slot in force is written
//!   again and synced after them, for the same reason: it says where they are (L42-1: a bounded log's switch
//!   whose header fsync failed left a readable slot naming the new region, which a power loss later took back).
//!   Its contents go to the slot not in force, at the next sequence (a cut that drops nothing), never over the
//!   slot in force and never both slots in one write (R43-1: a power loss may garble every sector being written;
//!   one write of both lost the log, and the older slot left in force by a garbled slot in force need not hold
//!   every record: a punch or a switch since): `TreeWal::secure_header`, synced with the torn tail's cut. So an
//!   open costs two fsyncs (the records read, then the slot and the tail), one for a log with no record from its
//!   start. The slot in force is durable because the open reads the header region as the device holds it, past
//!   the page cache ([`Storage::read_device_at`]; a log file O_DIRECT: `bufpool::storage::read_past_cache`), and
//!   a slot write whose write or fsync fails is undone besides, its old bytes written back (`restore_slot`). The
//!   undo alone left a slot cached and not on the device when its own write failed too, or the process died
//!   first, and the next open took it for the slot in force (R43-O5, R46-10 in RELIABILITY.md). The read costs
//!   one read of the header region's two blocks (8 KiB) at each open, in place of three slot reads; nothing else.
//!
//! - A log may *depend on* another log ([`TreeWal::flush_first`]): before it hands any of its records to the
//!   file (a commit, a WAL-rule flush, a buffer spill), it makes the other log durable up to that log's end as
//!   of each record's append (`State::buf_dep`). A layer above several trees (a transaction log holding each
//!   transaction's write set, appended before the transaction changes any tree) uses it so that no tree record,
//!   and so no tree page, of a transaction can reach the disk before the transaction's own record. An appender
//!   spills a buffer past [`BUF_SOFT_MAX`] only if that needs no fsync of the dependency; otherwise the owner's
//!   background [`TreeWal::write_out`] does (or the appender past [`BUF_HARD_MAX`]): an appender may hold a
//!   transaction's locks, and an fsync there stalls every transaction behind them (issue 15).
//!
//! - A tree whose log depends on another may take *covered* leaf changes ([`crate::Tree::put_covered`],
//!   [`crate::Tree::delete_covered`]): the caller appended a record of the change to the other log first, and
//!   this log records nothing for it (only a full-page image on the leaf's first change after a checkpoint).
//!   Such a page's LSN does not say what it holds, so the tree notes, under the page's exclusive latch, the
//!   other log's end at each such change ([`TreeWal::note_covered`], kept per page in memory by `deps.rs`), and
//!   the pool's WAL-rule flush ([`bufpool::Wal::flush_for_pages`]) makes the other log durable that far before
//!   this log to the page's LSN. An old page whose changes are durable there already costs no fsync.
//!
//! Lock order: `trunc` before `io` before `state`; `state` is never held across I/O; a log's `io` before its
//! dependency's locks (a dependency must never depend back, directly or not: [`TreeWal::flush_first`] refuses
//! one that would, R21-1 in RELIABILITY.md).

use std::cell::Cell;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use bufpool::storage::{Opened, Storage};
use bufpool::{Lsn, PageNo};
use crossbeam_utils::CachePadded;
use parking_lot::Mutex;

use crate::deps::PageDeps;
use crate::error::{Error, Result};
use crate::node::Node;

/// The header slot of an unbounded log written by a build before session 42 (no format: a legacy slot).
const MAGIC: &[u8; 8] = b"BPTWAL02";
/// The header slot of a bounded log ([`TreeWal::open_storage_with_capacity`]) written by a build before session
/// 42: `MAGIC`'s fields, then its region (a legacy slot).
const MAGIC_BOUNDED: &[u8; 8] = b"BPTWAL03";
/// The header slot of a log in the layout before session 44 (slots at bytes 0 and 512, records from 1024:
/// [`Layout::Sectors`]): the `BPTWAL03` fields, then the record format (module docs, "The format version"). An
/// older build knows neither this magic nor the slot, and refuses the log. Written by this build only into a log
/// of that layout it cannot move yet ("The block layout").
const MAGIC_FORMAT: &[u8; 8] = b"BPTWAL04";
/// The header slot this build writes ([`Layout::Blocks`]: slots at bytes 0 and 4096, records from 8192): the
/// fields of `BPTWAL04`, at the same offsets. A build of sessions 42 and 43 finds a magic of its family it does
/// not know and refuses the log ([`Error::LogFormat`]); an older one finds no valid header and refuses it.
const MAGIC_BLOCKS: &[u8; 8] = b"BPTWAL05";
/// What every header slot of this log family starts with: a slot that does and has a magic this build does not know
/// (`BPTWAL05`, ...) is a newer build's, and the log is refused ([`Error::LogFormat`]), never taken for damage.
const MAGIC_FAMILY: &[u8; 6] = b"BPTWAL";
/// The record format this build writes, and the newest it reads: the ops of tags 1 to 12 as the module docs give
/// them. A build that adds an op, or changes one's bytes, writes the next number; a log whose header names a number
/// above the reader's is refused whole ([`Error::LogFormat`]): its records may hold ops the reader would take for
/// the log's torn end, and cut. A legacy slot (`BPTWAL02`, `BPTWAL03`) reads as format 0: ops of the same tags,
/// any subset, all of which this build reads.
pub const LOG_FORMAT: u32 = 1;
/// Byte offsets, in a `BPTWAL04` slot, of the record format (`u32`) and of the CRC-32C over the bytes before it.
const FORMAT_AT: usize = 56;
const FORMAT_CRC_AT: usize = 60;
const _: () = assert!(FORMAT_CRC_AT + 4 <= DATA_AT);
/// Smallest region of a bounded log (half of its capacity past the header): far above any record a tree of 4 KiB
/// pages appends (a structure change's few page images), which must fit in the quarter of a region kept for a
/// checkpoint. A tree of larger pages refuses a log whose regions hold fewer than 32 of its pages (R25-2).
pub const REGION_MIN: u64 = 128 << 10;
/// Size of the header region of a log this build makes (two header slots, a 4 KiB block each: [`Layout::Blocks`]);
/// records start here. A log made before session 44 has a header region of [`LEGACY_HDR`] bytes.
pub const LOG_HDR: u64 = 2 * BLOCK;
/// The header region of the layout before session 44 ([`Layout::Sectors`]).
const LEGACY_HDR: u64 = 1024;
/// A page of the page cache: through a file system, the unit a write puts in flight (write-back writes a dirty
/// page whole), and a device that does not write 4 KiB atomically may garble any sector of it at a power loss.
const BLOCK: u64 = 4096;

/// Where a log's header slots and records lie (module docs, "The block layout"). Named by its slots' magic:
/// `BPTWAL05` is `Blocks`, every other `Sectors`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Layout {
    /// Before session 44: slots at bytes 0 and 512, records (or a bounded log's first region) from 1024. Both
    /// slots and the first records share one 4 KiB block.
    Sectors,
    /// Since session 44: slot 0 at byte 0, slot 1 at 4096, records from 8192 (or, for an unbounded log on a
    /// storage upgraded in place, from wherever its `base` says, at 8192 or later): no two of them share a block.
    Blocks,
}

impl Layout {
    /// Size of the header region: where records (a bounded log's first region, a new log's first record) start.
    fn hdr(self) -> u64 {
        match self {
            Layout::Sectors => LEGACY_HDR,
            Layout::Blocks => LOG_HDR,
        }
    }

    /// Byte offsets of the two header slots.
    fn slots(self) -> [u64; 2] {
        match self {
            Layout::Sectors => [0, 512],
            Layout::Blocks => [0, BLOCK],
        }
    }

    /// The header slot that is not the one at `at`: where a cut writes, `at` being the slot in force. In the block
    /// layout, a slot in force in the first block (slot 0, or the slot at 512 of a log being upgraded) has slot 1
    /// for its other: never a slot of the same block.
    fn other_slot(self, at: u64) -> u64 {
        let [zero, one] = self.slots();
        match self {
            Layout::Sectors if at == zero => one,
            Layout::Blocks if at < BLOCK => one,
            _ => zero,
        }
    }

    /// The byte offset where region `r` (0 or 1) of a bounded log whose regions are `region_len` bytes starts.
    fn region_base(self, r: u64, region_len: u64) -> u64 {
        self.hdr() + r * region_len
    }

    /// The region length of a bounded log of `capacity` bytes in this layout. In the block layout a whole number
    /// of blocks, so that the regions share no block: a switch writes its region up to its end (zeros past its
    /// copy), which would otherwise put the other region's first records, those the slot in force names until the
    /// switch's own slot is durable, in flight.
    fn region_len(self, capacity: u64) -> u64 {
        let len = capacity.saturating_sub(self.hdr()) / 2;
        match self {
            Layout::Sectors => len,
            Layout::Blocks => len / BLOCK * BLOCK,
        }
    }
}
/// Bytes of one header slot.
const SLOT_LEN: usize = 128;
/// Byte offset in a header slot of the identity of the data file the log serves (`u32`, then [`data_crc`]): past
/// both layouts' checksummed fields (module docs).
const DATA_AT: usize = 64;
/// The checksum of a slot's data-file name: over the name, then the slot's bytes 0..40 (magic, log id, origin,
/// start, sequence: at those offsets in both layouts), so a name belongs to the slot's write. Never over a
/// layout's own CRC-32C after the bytes it covers: a CRC's state after a message and its CRC is the same whatever
/// the message was (its residue; CRCs are linear), so a checksum over bytes 0..68, or over the name then bytes
/// 0..64, did not depend on the fields, and a name left behind by an older build's slot read as valid.
fn data_crc(h: &[u8; SLOT_LEN]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&h[DATA_AT..DATA_AT + 4]), &h[..40])
}
/// Every byte offset a header slot of either layout may lie at: slot 0, the block layout's slot 1, the sector
/// layout's slot 1 (read in that order).
const SLOT_AT: [u64; 3] = [0, BLOCK, 512];
const _: () = assert!(512 >= SLOT_LEN as u64 && 512 + SLOT_LEN as u64 <= LEGACY_HDR);
const _: () = assert!(BLOCK + SLOT_LEN as u64 <= LOG_HDR && LEGACY_HDR <= BLOCK && LOG_HDR.is_multiple_of(BLOCK));

/// Writes a header slot's old bytes back after a write of it whose write or fsync failed (R43-1): the new
/// bytes, readable and not durable (Linux keeps a failed fsync's pages cached and clean; `FaultyStorage` keeps
/// them in its live image), would otherwise be read by an open in the same process as the slot in force, which
/// the device does not hold (L42-1's switch, R42-3's upgrade). With the old bytes back, what is read is what the
/// device holds, and the slot in force read by the next open is durable: the open writes the slot not in force,
/// never the one in force (`TreeWal::secure_header`). Best effort, unsynced: the old bytes are the device's
/// already; if this write fails too, the device is failing, and the open's own write makes the new bytes durable.
fn restore_slot(dev: &Device, at: u64, old: &[u8]) {
    let _ = dev.write_all_at(old, at);
}

/// A header slot's bytes as read, zeros past the device's end (a log file cut short inside its header region
/// by a torn write of a new log's header), for [`restore_slot`].
fn read_slot(dev: &Device, at: u64) -> io::Result<[u8; SLOT_LEN]> {
    let mut b = [0u8; SLOT_LEN];
    read_zeros_past_end(dev, at, &mut b, false)?;
    Ok(b)
}

/// Fills `b` from byte `at` of `dev`, zeros past the device's end; with `past_cache`, what the device holds, past
/// the page cache ([`Device::read_device_at`]: the header region at an open, R46-10 in RELIABILITY.md).
fn read_zeros_past_end(dev: &Device, at: u64, b: &mut [u8], past_cache: bool) -> io::Result<()> {
    let mut r = DeviceReader {
        dev,
        pos: at,
        limit: at + b.len() as u64,
        past_cache,
    };
    let mut got = 0;
    while got < b.len() {
        match r.read(&mut b[got..])? {
            0 => break,
            n => got += n,
        }
    }
    b[got..].fill(0);
    Ok(())
}

const REC_HDR: usize = 16;
/// Largest record, in bytes (its 16-byte header included), that the log reads back: recovery takes a longer one
/// for the end of the log (a sanity bound: a structure change logs a handful of pages). [`TreeWal::append`]
/// refuses a longer record ([`Error::BadRecord`]).
pub const RECORD_MAX: usize = 16 << 20;
/// Buffered bytes above which an appender writes the buffer out (without fsync of this log) if the file is free
/// and, for a log with a dependency, that log is durable as far as the buffer needs already (no fsync of it on the
/// appender's path); otherwise [`TreeWal::write_out`] (a background caller) writes it.
pub const BUF_SOFT_MAX: usize = 1 << 20;
/// Buffered bytes above which an appender writes the buffer out whatever it costs: it waits for the file, and
/// makes the dependency durable as far as the buffer needs first. Bounds the buffer of a log whose owner never
/// calls [`TreeWal::write_out`].
pub const BUF_HARD_MAX: usize = 16 << 20;
const _: () = assert!(BUF_SOFT_MAX < BUF_HARD_MAX);
/// Bytes reserved at open for each of a log's two buffers (the one appends fill, and the spare a write-out hands
/// them): a buffer is written out soon after it passes [`BUF_SOFT_MAX`], so this is its steady size, reached
/// without the copies of growing by doubling from nothing (191 of them in a 30 s TPC-C profile, about 900
/// instructions a transaction). Untouched until appends reach it: virtual memory until then.
const BUF_RESERVE: usize = 2 * BUF_SOFT_MAX;
/// Logical file length from which a truncation rewrites the log file instead of punching a hole (see the
/// module docs, "Truncation"): byte offsets grow by every byte ever appended, and this bounds them. At TPC-C's
/// in-memory append rate (about 80 MB/s) a rewrite every minute or so, of a tail of at most a checkpoint's
/// distance, against one per checkpoint before.
pub const REWRITE_LEN: u64 = 4 << 30;
/// A rewrite copies the kept tail, so it waits until the file is at least this many times the tail: the bytes
/// copied stay under 1/(factor - 1) of the bytes appended between rewrites, however long the tail.
const REWRITE_TAIL_FACTOR: u64 = 8;
/// Punched ranges are aligned to this (the block size of the file systems we run on). A file system with larger
/// blocks frees less, and zeroes the partial blocks at the ends of the range, never a byte outside it.
const PUNCH_ALIGN: u64 = 4096;
/// Bytes per read and write of a rewrite's copy.
const COPY_CHUNK: usize = 1 << 20;
/// A log file grows by zeros written this many bytes at a time, at least half of it ahead of the records (module
/// docs, "A file's zeroed tail").
pub const GROW_STEP: u64 = 256 << 10;
/// The first LSN of a new log (0 means "never logged" on a page).
const FIRST_LSN: Lsn = 1;

const TAG_IMAGE: u8 = 1;
const TAG_PUT: u8 = 2;
const TAG_DEL: u8 = 3;
const TAG_SPLIT: u8 = 4;
const TAG_INNER: u8 = 5;
const TAG_PATCH: u8 = 6;
const TAG_CUT: u8 = 7;
const TAG_WRITTEN: u8 = 8;
const TAG_TAKING: u8 = 9;
/// The pages a bulk load may take after each [`Op::Taking`] note (module docs, "A bulk load's pages in the log"):
/// a quarter of the least replay budget, so a run a checkpoint cut the note of stays within it.
pub(crate) const TAKING_PAGES: u32 = 256;
const TAG_PUT_S: u8 = 10;
const TAG_DEL_S: u8 = 11;
const TAG_PATCH_S: u8 = 12;
/// Distinct pages (tables) per record whose last key the short row ops ([`Prefixes`]) code against; the keys of
/// further pages in a record are logged whole.
const PREFIX_PAGES: usize = 16;
/// [`Op::Written`] notes per record (13 bytes each: about 53 KB a record).
const WRITTEN_PER_RECORD: usize = 4096;

/// Bytes of one edit's header in a `PATCH` op (`offset u16 | len u16`).
const EDIT_HDR: usize = 4;
// `push_edit` builds the header as four bytes.
const _: () = assert!(EDIT_HDR == 4);
/// Equal bytes between two changed runs up to which [`encode_edits`] makes them one edit: carrying them costs
/// no more than the next edit's header.
const EDIT_GAP_MAX: usize = EDIT_HDR;

/// Who asked for a log fsync, for attributing them ([`TreeWal::syncs_by`]). A log that depends on another
/// ([`TreeWal::flush_first`]) passes its own cause on to the dependency's fsync that its write-out needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncCause {
    /// [`TreeWal::commit`] or [`TreeWal::flush_lsn`] (a group commit of the log's user).
    Commit,
    /// The pool's write-ahead rule before it writes pages ([`bufpool::Wal`]): evictions, write-backs, and the
    /// page writes of a tree checkpoint.
    PageWrite,
    /// A dependent log's buffer written out by an appender (past [`BUF_HARD_MAX`]).
    AppendSpill,
    /// A dependent log's buffer written out by [`TreeWal::write_out`].
    WriteOut,
    /// [`TreeWal::truncate_before`] (the cut that ends a checkpoint).
    Checkpoint,
}

impl SyncCause {
    /// Every cause, in the order of [`TreeWal::syncs_by`].
    pub const ALL: [SyncCause; 5] = [
        SyncCause::Commit,
        SyncCause::PageWrite,
        SyncCause::AppendSpill,
        SyncCause::WriteOut,
        SyncCause::Checkpoint,
    ];

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            SyncCause::Commit => "commit",
            SyncCause::PageWrite => "page_write",
            SyncCause::AppendSpill => "append_spill",
            SyncCause::WriteOut => "write_out",
            SyncCause::Checkpoint => "checkpoint",
        }
    }
}

/// One change to one page, as logged.
#[derive(Clone, Copy, Debug)]
pub enum Op<'a> {
    /// The page's whole user region after the change.
    Image {
        /// Page number in the data file.
        page: PageNo,
        /// The user region.
        bytes: &'a [u8],
    },
    /// Leaf upsert.
    Put {
        /// Page number of the leaf.
        page: PageNo,
        /// Key.
        key: &'a [u8],
        /// Value.
        val: &'a [u8],
    },
    /// Leaf delete.
    Del {
        /// Page number of the leaf.
        page: PageNo,
        /// Key.
        key: &'a [u8],
    },
    /// Leaf split after an upsert (`node::split_leaf`): the leaf keeps the lower half.
    Split {
        /// Page number of the leaf.
        page: PageNo,
        /// Page number of the new right leaf (the leaf's new link).
        right: PageNo,
        /// The pair upserted, whose insert split the leaf: `(key, value)`.
        pair: (&'a [u8], &'a [u8]),
    },
    /// Inner-node insert of a separator and the child right of it.
    Inner {
        /// Page number of the inner node.
        page: PageNo,
        /// The separator.
        sep: &'a [u8],
        /// The child right of it.
        child: PageNo,
    },
    /// The left half of a leaf split in a tree that takes covered changes (`node::cut_leaf`).
    Cut {
        /// Page number of the leaf.
        page: PageNo,
        /// Page number of the new right leaf (the leaf's new link).
        right: PageNo,
        /// The separator: the leaf's new high fence; its entries from it on are gone.
        sep: &'a [u8],
    },
    /// Not a change: a checkpoint's note that the pool wrote the page at `lsn` before the cut, so the data file
    /// must hold the page at least that new (`Tree::note_cut`; recovery hands it to the pool, nothing is redone).
    Written {
        /// Page number in the data file.
        page: PageNo,
        /// The end of the page's last record before the cut.
        lsn: Lsn,
    },
    /// Not a change: a bulk load is about to take up to `pages` pages from the pool, which it writes unlogged and
    /// syncs only before its switch record (`tree/bulk.rs`). A power loss before the switch can lose them while a
    /// concurrent change's image of a page after them is durable, so replay may find that many more pages zeroed
    /// past the data file's end (`Tree::check_growth`, R41-20 in RELIABILITY.md). Nothing is redone.
    Taking {
        /// The data file's page count when the load announced the pages (for reports; replay does not use it).
        page: PageNo,
        /// The pages the load may take from here on until its next such note.
        pages: u32,
    },
    /// Bytes of an existing value overwritten in place (logged by a layer above the trees, never by a tree).
    Patch {
        /// The page number field: the layer's own number (the transaction log's table).
        page: PageNo,
        /// Key.
        key: &'a [u8],
        /// The value's length, before and after.
        len: u32,
        /// The overwrites, as [`encode_edits`] writes them.
        edits: &'a [u8],
    },
}

impl Op<'_> {
    /// The page the op changes.
    pub fn page(&self) -> PageNo {
        match *self {
            Op::Image { page, .. }
            | Op::Put { page, .. }
            | Op::Del { page, .. }
            | Op::Split { page, .. }
            | Op::Inner { page, .. }
            | Op::Cut { page, .. }
            | Op::Written { page, .. }
            | Op::Taking { page, .. }
            | Op::Patch { page, .. } => page,
        }
    }
}

/// A decoded op, owning its bytes (recovery is not a hot path).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum OwnedOp {
    /// Full image (hole filled with zeros).
    Image(PageNo, Vec<u8>),
    /// Leaf upsert.
    Put(PageNo, Vec<u8>, Vec<u8>),
    /// Leaf delete.
    Del(PageNo, Vec<u8>),
    /// Leaf split: leaf, new right leaf, key and value of the upsert.
    Split(PageNo, PageNo, Vec<u8>, Vec<u8>),
    /// Inner-node insert: node, separator, child.
    Inner(PageNo, Vec<u8>, PageNo),
    /// Left half of a leaf split under a log above: leaf, new right leaf, separator.
    Cut(PageNo, PageNo, Vec<u8>),
    /// In-place overwrite: page number field, key, the value's length, edits ([`apply_edits`]).
    Patch(PageNo, Vec<u8>, u32, Vec<u8>),
    /// A checkpoint's note, not a change ([`Op::Written`]): page, the LSN the data file must hold it at or above.
    Written(PageNo, Lsn),
    /// A bulk load's note, not a change ([`Op::Taking`]): the data file's page count then, the pages it may take.
    Taking(PageNo, u32),
}

impl OwnedOp {
    /// The page the op changes.
    pub fn page(&self) -> PageNo {
        match self {
            OwnedOp::Image(p, _)
            | OwnedOp::Put(p, _, _)
            | OwnedOp::Del(p, _)
            | OwnedOp::Split(p, _, _, _)
            | OwnedOp::Inner(p, _, _)
            | OwnedOp::Cut(p, _, _)
            | OwnedOp::Written(p, _)
            | OwnedOp::Taking(p, _)
            | OwnedOp::Patch(p, _, _, _) => *p,
        }
    }
}

/// The part of a page image left out of the log: the free middle of a node, or trailing zeros otherwise.
fn hole_of(image: &[u8]) -> (usize, usize) {
    if let Some(n) = Node::parse(image) {
        return n.hole();
    }
    let used = used_len(image);
    (used, image.len() - used)
}

/// The length of `image` without its trailing zeros. Whole words from the end first: a byte at a time, the
/// meta page's image (mostly zeros) cost about 6 instructions a byte, a third of a leaf split's 75 K.
fn used_len(image: &[u8]) -> usize {
    let mut used = image.len();
    // (The slice is always 8 bytes: the fallback, which stops the loop, is never taken.)
    let word = |at: usize| u64::from_ne_bytes(image[at..at + 8].try_into().unwrap_or([1; 8]));
    while used >= 8 && word(used - 8) == 0 {
        used -= 8;
    }
    while used > 0 && image[used - 1] == 0 {
        used -= 1;
    }
    used
}

/// Appends to `out` the edits of a `PATCH` op that turn `old` into `new`: each run of changed bytes (runs at most
/// `EDIT_GAP_MAX` equal bytes apart taken as one) as `offset u16 | len u16 | bytes`. `false`, with `out` as it
/// was, if the two differ in length, are longer than `u16::MAX`, or the edits would not be shorter than `new`
/// itself (a whole-value put is then the smaller record).
pub fn encode_edits(old: &[u8], new: &[u8], out: &mut Vec<u8>) -> bool {
    if old.len() != new.len() || new.len() > usize::from(u16::MAX) {
        return false;
    }
    let start = out.len();
    // Equal bytes are skipped a word at a time (`first_diff`): most of a row is (a STOCK row changes 16 bytes of
    // about 310). A run's window of equal bytes after it is compared once: the next search starts past it.
    let mut i = first_diff(old, new, 0);
    while i < new.len() {
        // A run from i: extend while the next difference is at most EDIT_GAP_MAX equal bytes away.
        let mut end = i + 1;
        let mut j = end;
        while j < new.len() && j - end <= EDIT_GAP_MAX {
            if old[j] != new[j] {
                end = j + 1;
            }
            j += 1;
        }
        if !push_edit(out, start, new, i..end) {
            return false;
        }
        // Bytes end..j are equal (compared above).
        i = first_diff(old, new, j);
    }
    true
}

/// Appends to `out` the edits of a `PATCH` op that write bytes `ranges` of `new` (each within it; empty ones are
/// skipped), for a caller that knows that no other byte of `new` differs from the row the op patches (a TPC-C
/// body names the fields it changed): [`encode_edits`]' output without the comparison, when the ranges are
/// [`encode_edits`]' runs. `false`, with `out` as it was, if a range reaches past `new`'s end, `new` is longer
/// than `u16::MAX`, or the edits would not be shorter than `new` itself.
pub fn encode_ranges(new: &[u8], ranges: &[std::ops::Range<usize>], out: &mut Vec<u8>) -> bool {
    if new.len() > usize::from(u16::MAX) {
        return false;
    }
    let start = out.len();
    for r in ranges {
        if r.end > new.len() {
            out.truncate(start);
            return false;
        }
        if r.start < r.end && !push_edit(out, start, new, r.clone()) {
            return false;
        }
    }
    true
}

/// Appends the edit writing bytes `run` of `new` (within it, not empty) to the edits begun at `out[start]`;
/// `false`, with `out` cut back to `start`, if the edits would then not be shorter than `new`.
///
/// One reservation and the edit's header built in a word (its offset and length): three `extend_from_slice`
/// calls each checked the room, about 83 instructions an edit of TPC-C's updates (a STOCK row's 16 bytes) until
/// session 49 (perf49).
#[inline]
fn push_edit(out: &mut Vec<u8>, start: usize, new: &[u8], run: std::ops::Range<usize>) -> bool {
    if out.len() - start + EDIT_HDR + run.len() >= new.len() {
        out.truncate(start);
        return false;
    }
    let bytes = &new[run.start..run.end];
    let [s0, s1] = (run.start as u16).to_le_bytes();
    let [l0, l1] = (bytes.len() as u16).to_le_bytes();
    out.reserve(EDIT_HDR + bytes.len());
    out.extend_from_slice(&[s0, s1, l0, l1]);
    out.extend_from_slice(bytes);
    true
}

/// The first position at or after `i` where `a` and `b` (of one length) differ; their length if none. A word at
/// a time, and in the word that differs the lowest set byte of the two words' xor read little-endian: the bytes
/// before it are equal, none is compared twice.
#[inline]
fn first_diff(a: &[u8], b: &[u8], mut i: usize) -> usize {
    let n = a.len().min(b.len());
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().unwrap_or([0; 8]));
    while i + 8 <= n {
        let d = word(a, i) ^ word(b, i);
        if d != 0 {
            return i + (d.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

/// Applies the edits of a `PATCH` op ([`encode_edits`]) to `val`; `false` if they are malformed or reach past
/// its end (then `val` may hold some of them: the caller checks [`edits_fit`] first to change nothing).
pub fn apply_edits(val: &mut [u8], edits: &[u8]) -> bool {
    let mut c = Cursor { b: edits };
    while !c.b.is_empty() {
        let (Some(off), Some(len)) = (c.u16(), c.u16()) else {
            return false;
        };
        let (off, len) = (usize::from(off), usize::from(len));
        let (Some(bytes), Some(to)) = (c.take(len), val.get_mut(off..off + len)) else {
            return false;
        };
        to.copy_from_slice(bytes);
    }
    true
}

/// Whether the edits of a `PATCH` op are well formed and fit a value of `len` bytes.
pub fn edits_fit(edits: &[u8], len: usize) -> bool {
    let mut c = Cursor { b: edits };
    while !c.b.is_empty() {
        let (Some(off), Some(n)) = (c.u16(), c.u16()) else {
            return false;
        };
        if c.take(usize::from(n)).is_none() || usize::from(off) + usize::from(n) > len {
            return false;
        }
    }
    true
}

/// The last key of each page (a table, in the transaction log) that a `PUT`, `DEL` or `PATCH` op of the record
/// being encoded or decoded named so far: a short row op's key is coded as the length of its prefix shared with
/// its page's last key, then the rest (module docs, "Short row ops"). At most [`PREFIX_PAGES`] pages, in the
/// order of their first op; a page past them has no last key (its keys are logged whole). Encoder and decoder
/// keep it alike, so they agree. The pages apart from the keys, so that a lookup scans a few words.
struct Prefixes<K> {
    n: usize,
    pages: [PageNo; PREFIX_PAGES],
    keys: [K; PREFIX_PAGES],
}

impl<K: AsRef<[u8]> + Default> Prefixes<K> {
    fn new() -> Self {
        Prefixes {
            n: 0,
            pages: [0; PREFIX_PAGES],
            keys: std::array::from_fn(|_| K::default()),
        }
    }

    /// Where `page` is among the pages named so far.
    #[inline]
    fn find(&self, page: PageNo) -> Option<usize> {
        self.pages[..self.n].iter().position(|&p| p == page)
    }

    /// The last key named for `page`, if any.
    fn last(&self, page: PageNo) -> Option<&[u8]> {
        self.find(page).map(|i| self.keys[i].as_ref())
    }

    /// `key` is now `page`'s last key.
    fn set(&mut self, page: PageNo, key: K) {
        self.replace(page, key);
    }

    /// `key` is now `page`'s last key; its last key before, if any ([`Prefixes::last`] then [`Prefixes::set`]
    /// in one scan: the encoder's, once an op).
    #[inline]
    fn replace(&mut self, page: PageNo, key: K) -> Option<K> {
        match self.find(page) {
            Some(i) => Some(std::mem::replace(&mut self.keys[i], key)),
            None => {
                if self.n < PREFIX_PAGES {
                    self.pages[self.n] = page;
                    self.keys[self.n] = key;
                    self.n += 1;
                }
                None
            }
        }
    }
}

impl Prefixes<Vec<u8>> {
    /// `key` is now `page`'s last key, copied into the allocation of the key it replaces (a decoder's, once an op).
    fn set_copy(&mut self, page: PageNo, key: &[u8]) {
        match self.find(page) {
            Some(i) => {
                self.keys[i].clear();
                self.keys[i].extend_from_slice(key);
            }
            None => self.set(page, key.to_vec()),
        }
    }
}

/// The length of the longest common prefix of `a` and `b`: a word at a time, as [`first_diff`], with the last
/// part of fewer than 8 bytes read as one word (or half or quarter word) that overlaps the bytes already
/// compared, so no byte loop (the keys coded against their table's last key are 2 to 15 bytes in TPC-C).
#[inline]
fn shared_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let w8 = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().unwrap_or([0; 8]));
    let w4 = |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().unwrap_or([0; 4]));
    let w2 = |s: &[u8], at: usize| u16::from_le_bytes(s[at..at + 2].try_into().unwrap_or([0; 2]));
    // The first differing byte of words read at `at` (the lowest set byte of their xor, little-endian), or `n`:
    // every byte before `at` is known equal when it is called.
    let at_or_n = |at: usize, d: u32| {
        if d == 0 {
            n
        } else {
            at + (d.trailing_zeros() / 8) as usize
        }
    };
    if n >= 8 {
        let mut i = 0;
        while i + 8 <= n {
            let d = w8(a, i) ^ w8(b, i);
            if d != 0 {
                return i + (d.trailing_zeros() / 8) as usize;
            }
            i += 8;
        }
        if i == n {
            return n;
        }
        let d = w8(a, n - 8) ^ w8(b, n - 8);
        // Bytes n - 8 .. i are equal (compared above), so the first set byte is at i or later.
        return if d == 0 {
            n
        } else {
            n - 8 + (d.trailing_zeros() / 8) as usize
        };
    }
    if n >= 4 {
        let d = w4(a, 0) ^ w4(b, 0);
        if d != 0 {
            return (d.trailing_zeros() / 8) as usize;
        }
        return at_or_n(n - 4, w4(a, n - 4) ^ w4(b, n - 4));
    }
    if n >= 2 {
        let d = w2(a, 0) ^ w2(b, 0);
        if d != 0 {
            return (d.trailing_zeros() / 8) as usize;
        }
        return at_or_n(n - 2, u32::from(w2(a, n - 2) ^ w2(b, n - 2)));
    }
    usize::from(n == 1 && a[0] == b[0])
}

/// Appends `op` to `out`, its keys logged whole ([`encode_op_in`] with no earlier keys).
#[cfg(test)]
fn encode_op(out: &mut Vec<u8>, op: &Op<'_>) {
    encode_op_in(out, op, &mut Prefixes::new());
}

/// Appends `op` to `out`, a `PUT`, `DEL` or `PATCH` in its short form if it fits (module docs, "Short row ops"),
/// its key coded against `prev`. A transaction's ops (about 20 a record in TPC-C) cost a scan of the record's
/// pages ([`Prefixes::replace`]), a word compare of the key ([`shared_prefix`]), the fixed fields built in a
/// word and stored whole (the bytes past them cut off again), and the copies of the key's rest and the body
/// (session 43, perf43; R42-O5: the same bytes as session 41's encoder, which scanned twice, compared a byte at a
/// time and copied the fields with a call).
fn encode_op_in<'o>(out: &mut Vec<u8>, op: &Op<'o>, prev: &mut Prefixes<&'o [u8]>) {
    // The tag, page, key and body of a short form, and its fixed fields after the key's: `vlen` or `vlen | elen`.
    let (tag, page, key, lens, body) = match *op {
        Op::Put { page, key, val } if val.len() <= usize::from(u16::MAX) => {
            (TAG_PUT_S, page, key, (val.len() as u16, 0), val)
        }
        Op::Del { page, key } => (TAG_DEL_S, page, key, (0, 0), &[][..]),
        Op::Patch { page, key, len, edits } if len <= u32::from(u16::MAX) && edits.len() <= usize::from(u16::MAX) => {
            (TAG_PATCH_S, page, key, (len as u16, edits.len() as u16), edits)
        }
        Op::Put { page, key, .. } | Op::Patch { page, key, .. } => {
            prev.set(page, key);
            return encode_long(out, op);
        }
        _ => return encode_long(out, op),
    };
    let shared = prev.replace(page, key).map_or(0, |l| shared_prefix(l, key));
    let (Ok(page), Ok(klen)) = (u8::try_from(page), u8::try_from(key.len())) else {
        return encode_long(out, op);
    };
    let rest = &key[shared..];
    // `shared` is at most the key's length, so a byte.
    let [v0, v1] = lens.0.to_le_bytes();
    let [e0, e1] = lens.1.to_le_bytes();
    let h = [tag, page, shared as u8, klen - shared as u8, v0, v1, e0, e1];
    let n = match tag {
        TAG_PUT_S => 6,
        TAG_DEL_S => 4,
        _ => 8,
    };
    out.reserve(h.len() + rest.len() + body.len());
    out.extend_from_slice(&h);
    out.truncate(out.len() - (h.len() - n));
    out.extend_from_slice(rest);
    out.extend_from_slice(body);
}

/// Appends `op` to `out` in its long form (every op but the short row ops). Not inlined: the short row ops'
/// encoder stays small enough to be inlined in the record's loop.
#[inline(never)]
fn encode_long(out: &mut Vec<u8>, op: &Op<'_>) {
    match *op {
        Op::Image { page, bytes } => {
            let (off, len) = hole_of(bytes);
            out.push(TAG_IMAGE);
            out.extend_from_slice(&page.to_le_bytes());
            out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            out.extend_from_slice(&(off as u32).to_le_bytes());
            out.extend_from_slice(&(len as u32).to_le_bytes());
            out.extend_from_slice(&bytes[..off]);
            out.extend_from_slice(&bytes[off + len..]);
        }
        Op::Put { page, key, val } => {
            let mut h = [TAG_PUT; 11];
            h[1..5].copy_from_slice(&page.to_le_bytes());
            h[5..7].copy_from_slice(&(key.len() as u16).to_le_bytes());
            h[7..11].copy_from_slice(&(val.len() as u32).to_le_bytes());
            out.reserve(h.len() + key.len() + val.len());
            out.extend_from_slice(&h);
            out.extend_from_slice(key);
            out.extend_from_slice(val);
        }
        Op::Del { page, key } => {
            let mut h = [TAG_DEL; 7];
            h[1..5].copy_from_slice(&page.to_le_bytes());
            h[5..7].copy_from_slice(&(key.len() as u16).to_le_bytes());
            out.reserve(h.len() + key.len());
            out.extend_from_slice(&h);
            out.extend_from_slice(key);
        }
        Op::Split {
            page,
            right,
            pair: (key, val),
        } => {
            out.push(TAG_SPLIT);
            out.extend_from_slice(&page.to_le_bytes());
            out.extend_from_slice(&right.to_le_bytes());
            out.extend_from_slice(&(key.len() as u16).to_le_bytes());
            out.extend_from_slice(&(val.len() as u32).to_le_bytes());
            out.extend_from_slice(key);
            out.extend_from_slice(val);
        }
        Op::Inner { page, sep, child } => {
            out.push(TAG_INNER);
            out.extend_from_slice(&page.to_le_bytes());
            out.extend_from_slice(&child.to_le_bytes());
            out.extend_from_slice(&(sep.len() as u16).to_le_bytes());
            out.extend_from_slice(sep);
        }
        Op::Cut { page, right, sep } => {
            out.push(TAG_CUT);
            out.extend_from_slice(&page.to_le_bytes());
            out.extend_from_slice(&right.to_le_bytes());
            out.extend_from_slice(&(sep.len() as u16).to_le_bytes());
            out.extend_from_slice(sep);
        }
        Op::Written { page, lsn } => {
            out.push(TAG_WRITTEN);
            out.extend_from_slice(&page.to_le_bytes());
            out.extend_from_slice(&lsn.to_le_bytes());
        }
        Op::Taking { page, pages } => {
            out.push(TAG_TAKING);
            out.extend_from_slice(&page.to_le_bytes());
            out.extend_from_slice(&pages.to_le_bytes());
        }
        Op::Patch { page, key, len, edits } => {
            let mut h = [TAG_PATCH; 15];
            h[1..5].copy_from_slice(&page.to_le_bytes());
            h[5..7].copy_from_slice(&(key.len() as u16).to_le_bytes());
            h[7..11].copy_from_slice(&len.to_le_bytes());
            h[11..15].copy_from_slice(&(edits.len() as u32).to_le_bytes());
            out.reserve(h.len() + key.len() + edits.len());
            out.extend_from_slice(&h);
            out.extend_from_slice(key);
            out.extend_from_slice(edits);
        }
    }
}

/// Appends a record of `ops` to `out`, its length set, its checksum and LSN not yet ([`seal`]).
fn encode_record<'o>(out: &mut Vec<u8>, ops: impl ExactSizeIterator<Item = Op<'o>>) {
    let start = out.len();
    out.extend_from_slice(&[0u8; REC_HDR]);
    out.extend_from_slice(&(ops.len() as u16).to_le_bytes());
    let mut prev = Prefixes::new();
    for op in ops {
        encode_op_in(out, &op, &mut prev);
    }
    let len = (out.len() - start) as u32;
    out[start + 4..start + 8].copy_from_slice(&len.to_le_bytes());
}

/// Seals the encoded record `rec` ([`encode_record`]) as the record starting at `lsn`: its LSN, then its checksum
/// (over everything after the checksum, the LSN included).
fn seal(rec: &mut [u8], lsn: Lsn) {
    rec[8..16].copy_from_slice(&lsn.to_le_bytes());
    let crc = crc32c::crc32c(&rec[4..]);
    rec[0..4].copy_from_slice(&crc.to_le_bytes());
}

/// Largest allocation a thread keeps for its next record ([`TreeWal::append_checked`]): a transaction's record
/// (about 0.75 KB in TPC-C) or a structure change's few pages; a larger one is freed after its append.
const SCRATCH_KEEP: usize = 64 << 10;

thread_local! {
    /// This thread's record being appended ([`TreeWal::append_checked`]), kept for its allocation.
    static SCRATCH: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Its length, or `Err` ([`Error::BadRecord`]) unless `ops` encode (`encode_op`) as a record the log reads back (`read_record`,
/// `decode_ops`): at most `u16::MAX` ops, keys and separators of at most `u16::MAX` bytes, a `PATCH`'s edits that
/// fit its value, and at most [`RECORD_MAX`] bytes in all. The length counts every row op in its long form: the
/// record may be shorter (module docs, "Short row ops"), never longer. Before R14-1 such a record was appended and made
/// durable, and the next open took it for the log's torn end and cut it off, with every record after it.
fn check_record(ops: &[Op<'_>]) -> Result<u64> {
    let bad = |why: String| Err(Error::BadRecord(why));
    let short = usize::from(u16::MAX);
    if ops.len() > short {
        return bad(format!("{} ops, more than {short}", ops.len()));
    }
    let mut len = REC_HDR + 2;
    for op in ops {
        let (key, body) = match *op {
            Op::Image { bytes, .. } if bytes.len() > RECORD_MAX => {
                return bad(format!("an image of {} bytes, more than {RECORD_MAX}", bytes.len()));
            }
            Op::Image { bytes, .. } => (0, 17 + bytes.len() - hole_of(bytes).1),
            Op::Put { key, val, .. } => (key.len(), 11 + key.len() + val.len()),
            Op::Del { key, .. } => (key.len(), 7 + key.len()),
            Op::Split { pair: (key, val), .. } => (key.len(), 15 + key.len() + val.len()),
            Op::Inner { sep, .. } | Op::Cut { sep, .. } => (sep.len(), 11 + sep.len()),
            Op::Written { .. } => (0, 13),
            Op::Taking { .. } => (0, 9),
            Op::Patch {
                key, len: vl, edits, ..
            } => {
                if !edits_fit(edits, vl as usize) {
                    return bad(format!("a patch's edits do not fit its value of {vl} bytes"));
                }
                (key.len(), 15 + key.len() + edits.len())
            }
        };
        if key > short {
            return bad(format!("a key of {key} bytes, more than {short}"));
        }
        len = len.saturating_add(body);
    }
    if len > RECORD_MAX {
        return bad(format!("{len} bytes, more than {RECORD_MAX}"));
    }
    Ok(len as u64)
}

/// The most bytes a record of `pages` full images of pages of `page_size` bytes takes (`check_record`'s count with
/// no hole): what a tree reserves in a bounded log before a change that logs them ([`TreeWal::reserve`]).
pub(crate) fn images_bound(pages: usize, page_size: usize) -> u64 {
    (REC_HDR + 2 + pages * (17 + page_size)) as u64
}

/// A cursor over a record payload that never panics.
struct Cursor<'a> {
    b: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.b.len() {
            return None;
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Some(h)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

/// Decodes the ops of a record payload; `None` if malformed.
pub fn decode_ops(payload: &[u8]) -> Option<Vec<OwnedOp>> {
    let mut ops = Vec::new();
    walk(payload, |op| {
        ops.push(match op {
            Walked::Image { page, len, head, tail } => {
                let mut img = Vec::new();
                assemble_image(&mut img, len, head, tail);
                OwnedOp::Image(page, img)
            }
            Walked::Op(op) => OwnedOp::from(op),
        })
    })?;
    Some(ops)
}

/// Hands `f` each op of a record payload in order, borrowed ([`decode_ops`] without an allocation an op: a
/// short row op's key and an image are rebuilt in buffers reused from op to op, so an op lives for its call);
/// `None` if malformed, which `f` may learn only after it was handed the ops before the fault. A restart's
/// replay of a log above the trees takes its row ops so (millions of them: decoded owned, their allocations and
/// frees were a sixth of the replay's CPU; BENCHMARKS.md, "Session 54").
pub fn visit_ops(payload: &[u8], mut f: impl FnMut(Op<'_>)) -> Option<()> {
    let mut img = Vec::new();
    walk(payload, |op| match op {
        Walked::Image { page, len, head, tail } => {
            assemble_image(&mut img, len, head, tail);
            f(Op::Image { page, bytes: &img })
        }
        Walked::Op(op) => f(op),
    })
}

/// Whether `payload` decodes ([`decode_ops`]), without keeping what it holds: no allocation but a short row op's
/// key prefixes' (a log's open reads every record this way to find its end, and the records are decoded again
/// when they are replayed: the decoded ops' allocations were most of a 400 MB transaction log's open, about 1 s;
/// BENCHMARKS.md, "Session 51").
fn ops_decode(payload: &[u8]) -> bool {
    walk(payload, |_| {}).is_some()
}

/// Makes `img` the `len` bytes of an image that [`walk`] handed in its two parts: `head`, the hole's zeros, `tail`.
fn assemble_image(img: &mut Vec<u8>, len: usize, head: &[u8], tail: &[u8]) {
    img.clear();
    img.resize(len, 0);
    img[..head.len()].copy_from_slice(head);
    img[len - tail.len()..].copy_from_slice(tail);
}

/// An op as [`walk`] hands it: an image as its bytes around its hole (zeros), unassembled, every other op whole.
enum Walked<'a> {
    Image {
        page: PageNo,
        /// The user region's length.
        len: usize,
        /// The bytes before the hole.
        head: &'a [u8],
        /// The bytes after it, up to `len`.
        tail: &'a [u8],
    },
    Op(Op<'a>),
}

impl From<Op<'_>> for OwnedOp {
    fn from(op: Op<'_>) -> OwnedOp {
        match op {
            Op::Image { page, bytes } => OwnedOp::Image(page, bytes.to_vec()),
            Op::Put { page, key, val } => OwnedOp::Put(page, key.to_vec(), val.to_vec()),
            Op::Del { page, key } => OwnedOp::Del(page, key.to_vec()),
            Op::Split { page, right, pair } => OwnedOp::Split(page, right, pair.0.to_vec(), pair.1.to_vec()),
            Op::Inner { page, sep, child } => OwnedOp::Inner(page, sep.to_vec(), child),
            Op::Cut { page, right, sep } => OwnedOp::Cut(page, right, sep.to_vec()),
            Op::Written { page, lsn } => OwnedOp::Written(page, lsn),
            Op::Taking { page, pages } => OwnedOp::Taking(page, pages),
            Op::Patch { page, key, len, edits } => OwnedOp::Patch(page, key.to_vec(), len, edits.to_vec()),
        }
    }
}

/// The one decoder of a record payload ([`decode_ops`], [`visit_ops`], [`ops_decode`]): each op handed to `f`
/// in order as it is checked, a short row op's key rebuilt (its shared prefix from the last key of its page
/// number in the record, then its rest) in a buffer reused from op to op; `None` if malformed.
fn walk(payload: &[u8], mut f: impl FnMut(Walked<'_>)) -> Option<()> {
    let mut c = Cursor { b: payload };
    let n = c.u16()? as usize;
    let mut prev: Prefixes<Vec<u8>> = Prefixes::new();
    // A short op's key, its prefix from `prev`, then its rest.
    let mut key = Vec::new();
    for _ in 0..n {
        let tag = c.u8()?;
        if let TAG_PUT_S | TAG_DEL_S | TAG_PATCH_S = tag {
            let (page, body) = decode_short(&mut c, tag, &prev, &mut key)?;
            prev.set_copy(page, &key);
            let key = &key[..];
            f(Walked::Op(match body {
                Short::Put(val) => Op::Put { page, key, val },
                Short::Del => Op::Del { page, key },
                Short::Patch(len, edits) => Op::Patch { page, key, len, edits },
            }));
            continue;
        }
        let page = c.u32()?;
        let op = match tag {
            TAG_IMAGE => {
                let len = c.u32()? as usize;
                let off = c.u32()? as usize;
                let hole = c.u32()? as usize;
                if off.checked_add(hole)? > len || len > RECORD_MAX {
                    return None;
                }
                let (head, tail) = (c.take(off)?, c.take(len - off - hole)?);
                f(Walked::Image { page, len, head, tail });
                continue;
            }
            TAG_PUT => {
                let kl = c.u16()? as usize;
                let vl = c.u32()? as usize;
                let key = c.take(kl)?;
                prev.set_copy(page, key);
                Op::Put {
                    page,
                    key,
                    val: c.take(vl)?,
                }
            }
            TAG_DEL => {
                let kl = c.u16()? as usize;
                let key = c.take(kl)?;
                prev.set_copy(page, key);
                Op::Del { page, key }
            }
            TAG_SPLIT => {
                let right = c.u32()?;
                let kl = c.u16()? as usize;
                let vl = c.u32()? as usize;
                Op::Split {
                    page,
                    right,
                    pair: (c.take(kl)?, c.take(vl)?),
                }
            }
            TAG_INNER => {
                let child = c.u32()?;
                let kl = c.u16()? as usize;
                Op::Inner {
                    page,
                    sep: c.take(kl)?,
                    child,
                }
            }
            TAG_CUT => {
                let right = c.u32()?;
                let kl = c.u16()? as usize;
                Op::Cut {
                    page,
                    right,
                    sep: c.take(kl)?,
                }
            }
            TAG_PATCH => {
                let kl = c.u16()? as usize;
                let vl = c.u32()?;
                let el = c.u32()? as usize;
                let key = c.take(kl)?;
                let edits = c.take(el)?;
                if !edits_fit(edits, vl as usize) {
                    return None;
                }
                prev.set_copy(page, key);
                Op::Patch {
                    page,
                    key,
                    len: vl,
                    edits,
                }
            }
            TAG_WRITTEN => Op::Written { page, lsn: c.u64()? },
            TAG_TAKING => Op::Taking { page, pages: c.u32()? },
            _ => return None,
        };
        f(Walked::Op(op));
    }
    c.b.is_empty().then_some(())
}

/// What a short row op holds past its key ([`decode_short`]).
enum Short<'a> {
    Put(&'a [u8]),
    Del,
    Patch(u32, &'a [u8]),
}

/// Decodes the short row op of `tag` at `c` (after its tag): its page, its key into `key` (its shared prefix from
/// `prev`, then the rest), and what follows the key; `None` if malformed (a prefix longer than its page's last
/// key, or with none).
fn decode_short<'a>(
    c: &mut Cursor<'a>,
    tag: u8,
    prev: &Prefixes<Vec<u8>>,
    key: &mut Vec<u8>,
) -> Option<(PageNo, Short<'a>)> {
    let page = PageNo::from(c.u8()?);
    let shared = usize::from(c.u8()?);
    let rest = usize::from(c.u8()?);
    let (vl, el) = match tag {
        TAG_PUT_S => (c.u16()?, 0),
        TAG_PATCH_S => (c.u16()?, c.u16()?),
        _ => (0, 0),
    };
    key.clear();
    if shared > 0 {
        key.extend_from_slice(prev.last(page)?.get(..shared)?);
    }
    key.extend_from_slice(c.take(rest)?);
    Some((
        page,
        match tag {
            TAG_PUT_S => Short::Put(c.take(usize::from(vl))?),
            TAG_DEL_S => Short::Del,
            _ => {
                let edits = c.take(usize::from(el))?;
                if !edits_fit(edits, usize::from(vl)) {
                    return None;
                }
                Short::Patch(u32::from(vl), edits)
            }
        },
    ))
}

struct State {
    /// Encoded records not yet handed to the file; `buf[0]` is at LSN `buf_start`.
    buf: Vec<u8>,
    buf_start: Lsn,
    /// With a dependency ([`TreeWal::flush_first`]): how far that log must be durable before `buf` may be
    /// written, the highest of its appended ends noted when each record in `buf` was appended; 0 without one.
    buf_dep: Lsn,
    /// End of the last appended record: the next record starts here.
    next: Lsn,
    /// Bytes a write-out took from `buf` and has not written yet (0 when none runs: `io` keeps them one at a
    /// time). Still unwritten, they count against [`BUF_HARD_MAX`] (R22-1 in RELIABILITY.md).
    taken: usize,
    /// With a dependency: `buf` and `taken` hold more than [`BUF_HARD_MAX`] bytes, or (a bounded log) the appended
    /// end is past three quarters of the region, and the log is so counted in the dependency's `dependents_over`
    /// ([`TreeWal::note_over`]).
    over: bool,
    /// Empty, with the allocation of a buffer written out before: a write-out hands it to the appends that come
    /// while it writes, so a buffer is not grown again from nothing (by doubling, each step a copy) after every
    /// write-out.
    spare: Vec<u8>,
}

/// Where the log's bytes live (see the module docs). Cheap to clone: recovery reads through a clone without
/// holding the `io` mutex, which appenders and the pool's WAL-rule flushes need meanwhile.
///
/// A call into a caller's [`Storage`] that panics is an I/O error of the call (`guarded`), as the pool makes a
/// data file's storage's panic ([`bufpool::Error::Panicked`]): a write or fsync so fails the log, a read fails
/// what was reading. Unwound instead, a panicking write had taken the buffered records and dropped them, and the
/// next commit wrote the records after them and made them durable past the hole, acknowledged but never
/// recovered (recovery stops at the hole), while the pool, which catches its log's panics
/// (`Wal::flush_for_pages`), went on writing pages whose records were lost (R18-2 in RELIABILITY.md). An open's
/// recovery so refused left its data file open with the log claimed (R17-O2).
#[derive(Clone)]
enum Device {
    File(Arc<File>),
    Storage(Arc<dyn Storage>),
}

impl Device {
    fn len(&self) -> io::Result<u64> {
        match self {
            Device::File(f) => f.metadata().map(|m| m.len()),
            Device::Storage(s) => guarded("Storage::len", || s.len()),
        }
    }

    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<usize> {
        match self {
            Device::File(f) => f.read_at(buf, off),
            Device::Storage(s) => guarded("Storage::read_at", || s.read_at(buf, off)),
        }
    }

    fn read_exact_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
        let mut reader = DeviceReader {
            dev: self,
            pos: off,
            limit: u64::MAX,
            past_cache: false,
        };
        reader.read_exact(buf)
    }

    /// What the device holds, past the page cache ([`Storage::read_device_at`],
    /// [`bufpool::storage::read_past_cache`]).
    fn read_device_at(&self, buf: &mut [u8], off: u64) -> io::Result<usize> {
        match self {
            Device::File(f) => bufpool::storage::read_past_cache(f, buf, off),
            Device::Storage(s) => guarded("Storage::read_device_at", || s.read_device_at(buf, off)),
        }
    }

    fn write_all_at(&self, buf: &[u8], off: u64) -> io::Result<()> {
        match self {
            Device::File(f) => f.write_all_at(buf, off),
            Device::Storage(s) => guarded("Storage::write_at", || s.write_at(buf, off)),
        }
    }

    fn sync(&self) -> io::Result<()> {
        match self {
            Device::File(f) => f.sync_data(),
            Device::Storage(s) => guarded("Storage::sync", || s.sync()),
        }
    }

    /// Whether no name leads to the file any more (its link count is 0: deleted, or replaced by a rename over its
    /// name, while open; [`Storage::links`] for a storage), so that records synced in it are not durable under
    /// any name (R41-2 in RELIABILITY.md). Asked after each fsync of a write-out, under `io`: the log's own
    /// rewrite swaps its handle under that lock right after its rename, so it never sees its own replaced file.
    fn unlinked(&self) -> io::Result<bool> {
        match self {
            Device::File(f) => Ok(f.metadata()?.nlink() == 0),
            Device::Storage(s) => guarded("Storage::links", || Ok(s.links() == Some(0))),
        }
    }

    /// Makes everything from byte `len` on (up to `limit`: a bounded log's region end) unreadable as records, not
    /// yet durably (the caller syncs: the open, with its header slot's write): a file is cut, a storage (which
    /// cannot shrink) gets zeros written over it. Returns whether it changed anything.
    fn cut_unsynced(&self, len: u64, limit: u64) -> io::Result<bool> {
        let cur = self.len()?.min(limit);
        if cur <= len {
            return Ok(false);
        }
        match self {
            Device::File(f) => f.set_len(len)?,
            Device::Storage(_) => zero_dev(self, len, cur, 64 << 10)?,
        }
        Ok(true)
    }
}

/// Writes again, and syncs, the blocks of bytes `from..to` of `dev` that the device does not hold as they read:
/// records readable but perhaps not durable (a failed fsync's, or a crashed process's unsynced ones) made durable
/// before anything relies on them (R39-2). Each [`COPY_CHUNK`] is read through the page cache and past it
/// ([`Device::read_device_at`]), and only the 4 KiB blocks where the two differ (or the device is shorter) are
/// written: a write puts its whole blocks in flight, and a device that does not write a block atomically may
/// garble them at a power loss; until session 47 every record from the log's start was written again, so a power
/// loss during an open after a crash garbled committed records that were on the device, and the log ended at the
/// first of them (R43-O2, fixed as R47-10 in RELIABILITY.md). A block the device already holds is left alone; one
/// it does not hold was not durable anyway (but for the committed records sharing the block that ends them, as
/// at every append: R44-O2). Synced whatever was written: a read past the cache may have written dirty cached
/// pages back first, which the fsync makes durable. Nothing to do for an empty range (a log closed cleanly is
/// cut to its end).
fn rewrite(dev: &Device, from: u64, to: u64) -> io::Result<()> {
    if from >= to {
        return Ok(());
    }
    let len = (to - from).min(COPY_CHUNK as u64) as usize;
    let (mut cached, mut device) = (vec![0u8; len], vec![0u8; len]);
    let mut at = from;
    while at < to {
        let n = (to - at).min(len as u64) as usize;
        dev.read_exact_at(&mut cached[..n], at)?;
        // What the device holds, fewer bytes only at its end (then the rest differs: not on the device).
        let mut held = 0;
        while held < n {
            match dev.read_device_at(&mut device[held..n], at + held as u64)? {
                0 => break,
                got => held += got,
            }
        }
        // Runs of differing blocks (aligned to the device's blocks, clipped to the range), each one write.
        let mut run: Option<usize> = None;
        let mut i = 0;
        while i < n {
            let j = (((at + i as u64) / BLOCK + 1) * BLOCK - at).min(n as u64) as usize;
            let differs = j > held || cached[i..j] != device[i..j];
            match (differs, run) {
                (true, None) => run = Some(i),
                (false, Some(r)) => {
                    dev.write_all_at(&cached[r..i], at + r as u64)?;
                    run = None;
                }
                _ => {}
            }
            i = j;
        }
        if let Some(r) = run {
            dev.write_all_at(&cached[r..n], at + r as u64)?;
        }
        at += n as u64;
    }
    dev.sync()
}

/// `call` of a log's [`Storage`], its panic an error of the call ([`Device`]): the pool's
/// [`bufpool::Error::Panicked`], carried as the `io::Error`'s source.
fn guarded<T>(what: &'static str, call: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(call))
        .unwrap_or_else(|payload| Err(io::Error::other(bufpool::Error::panicked(what, payload))))
}

/// Sequential reads from a [`Device`]; `Ok(0)` only at its end or at `limit`, I/O errors passed on (never taken
/// for an end). A read that returns nothing before the device's end (a short read: the project's model of an
/// honest device makes them, `FaultConfig::honest`) is tried again, up to [`SHORT_READ_RETRIES`] times, then
/// fails: it is not the end. Taken for the end, it cut recovery's scan short, and the open's checkpoint then cut
/// the committed records after it from the log (R39-1 in RELIABILITY.md).
struct DeviceReader<'d> {
    dev: &'d Device,
    pos: u64,
    limit: u64,
    /// Reads what the device holds, past the page cache ([`Device::read_device_at`]), not through it.
    past_cache: bool,
}

impl Read for DeviceReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let room = self.limit.saturating_sub(self.pos).min(buf.len() as u64) as usize;
        if room == 0 {
            return Ok(0);
        }
        let read = |buf: &mut [u8], pos| match self.past_cache {
            true => self.dev.read_device_at(buf, pos),
            false => self.dev.read_at(buf, pos),
        };
        let mut n = read(&mut buf[..room], self.pos)?;
        let mut retries = 0;
        while n == 0 && self.pos < self.dev.len()? {
            if retries == SHORT_READ_RETRIES {
                return Err(io::Error::other(format!(
                    "reads at byte {} returned nothing {} times before the end of the log",
                    self.pos,
                    retries + 1
                )));
            }
            retries += 1;
            n = read(&mut buf[..room], self.pos)?;
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// How many times [`DeviceReader`] reads again after a read that returned nothing before the device's end.
const SHORT_READ_RETRIES: u32 = 3;

/// One header slot's contents (see the module docs).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Header {
    id: u64,
    origin: Lsn,
    start: Lsn,
    seq: u64,
    /// Byte offset of `origin`: [`LOG_HDR`], or (a bounded log in its second region) `LOG_HDR + region_len`.
    base: u64,
    /// A bounded log's region length ([`TreeWal::open_storage_with_capacity`]); 0 for an unbounded log.
    region_len: u64,
    /// The identity of the data file this log serves ([`TreeWal::data_file`]); 0 for none named.
    data: u32,
    /// The record format the slot names: [`LOG_FORMAT`] in every slot this build writes, 0 read from a legacy
    /// slot (`BPTWAL02`, `BPTWAL03`), above [`LOG_FORMAT`] in a newer build's (refused at open).
    format: u32,
    /// The log's layout, as the slot's magic names it (`BPTWAL05`: [`Layout::Blocks`]).
    layout: Layout,
}

impl Header {
    /// The slot's bytes, in the `BPTWAL04` layout whatever the log (module docs, "The format version"): a build
    /// before session 42 finds no valid header in it and refuses the log, rather than reading records of ops it
    /// does not know as the log's torn end and cutting them. (Until session 42 an unbounded log's slot was
    /// `BPTWAL02`, a bounded log's `BPTWAL03`; [`Header::decode`] reads both.)
    fn encode(&self) -> [u8; SLOT_LEN] {
        debug_assert!(self.format >= 1, "a slot this build writes names its record format");
        let mut h = [0u8; SLOT_LEN];
        h[..8].copy_from_slice(match self.layout {
            Layout::Sectors => MAGIC_FORMAT,
            Layout::Blocks => MAGIC_BLOCKS,
        });
        h[8..16].copy_from_slice(&self.id.to_le_bytes());
        h[16..24].copy_from_slice(&self.origin.to_le_bytes());
        h[24..32].copy_from_slice(&self.start.to_le_bytes());
        h[32..40].copy_from_slice(&self.seq.to_le_bytes());
        h[40..48].copy_from_slice(&self.base.to_le_bytes());
        h[48..56].copy_from_slice(&self.region_len.to_le_bytes());
        h[FORMAT_AT..FORMAT_AT + 4].copy_from_slice(&self.format.to_le_bytes());
        let crc = crc32c::crc32c(&h[..FORMAT_CRC_AT]);
        h[FORMAT_CRC_AT..FORMAT_CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());
        if self.data != 0 {
            // After every layout's checksummed bytes, where a legacy build reads nothing of its own: it opened a
            // legacy log as before and wrote 64-byte slots, leaving these bytes as they were. The checksum covers
            // the slot's fields too, so the name belongs to this slot's write: under such a slot it fails.
            h[DATA_AT..DATA_AT + 4].copy_from_slice(&self.data.to_le_bytes());
            let crc = data_crc(&h);
            h[DATA_AT + 4..DATA_AT + 8].copy_from_slice(&crc.to_le_bytes());
        }
        h
    }

    fn decode(h: &[u8; SLOT_LEN]) -> Option<Header> {
        let u64_at = |o: usize| h.get(o..o + 8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes);
        let u32_at = |o: usize| h.get(o..o + 4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes);
        let (base, region_len, format, layout) = if &h[..8] == MAGIC {
            if u32_at(40)? != crc32c::crc32c(&h[..40]) {
                return None;
            }
            (LEGACY_HDR, 0, 0, Layout::Sectors)
        } else if &h[..8] == MAGIC_BOUNDED {
            if u32_at(56)? != crc32c::crc32c(&h[..56]) {
                return None;
            }
            (u64_at(40)?, u64_at(48)?, 0, Layout::Sectors)
        } else if &h[..8] == MAGIC_FORMAT || &h[..8] == MAGIC_BLOCKS {
            if u32_at(FORMAT_CRC_AT)? != crc32c::crc32c(&h[..FORMAT_CRC_AT]) {
                return None;
            }
            let layout = match &h[..8] == MAGIC_BLOCKS {
                true => Layout::Blocks,
                false => Layout::Sectors,
            };
            (u64_at(40)?, u64_at(48)?, u32_at(FORMAT_AT).filter(|&f| f >= 1)?, layout)
        } else {
            return None;
        };
        let data = match u32_at(DATA_AT)? {
            d if d != 0 && u32_at(DATA_AT + 4)? == data_crc(h) => d,
            _ => 0,
        };
        let hdr = Header {
            id: u64_at(8)?,
            origin: u64_at(16)?,
            start: u64_at(24)?,
            seq: u64_at(32)?,
            base,
            region_len,
            data,
            format,
            layout,
        };
        // An unbounded log's records start at the header region's end, but in the block layout after an upgrade in
        // place, which names them where they lie (at 8192 or later: `TreeWal::move_to_blocks`).
        let unbounded = match layout {
            Layout::Sectors => base == LEGACY_HDR,
            Layout::Blocks => base >= LOG_HDR,
        };
        let fits = (region_len == 0 && unbounded)
            || (region_len >= REGION_MIN && (0..2).any(|r| base == layout.region_base(r, region_len)));
        (fits && hdr.origin >= FIRST_LSN && hdr.start >= hdr.origin).then_some(hdr)
    }

    /// The header region of a new log (or of a log file rewritten by truncation), in the block layout: slot 0 holds
    /// `self`, slot 1 nothing (so the next cut writes slot 1: `LogFile::slot`).
    fn region(&self) -> Vec<u8> {
        debug_assert_eq!(
            self.layout,
            Layout::Blocks,
            "a header region is made in this build's layout"
        );
        let mut r = vec![0u8; LOG_HDR as usize];
        r[..SLOT_LEN].copy_from_slice(&self.encode());
        r
    }
}

/// Whether `b`, the whole of a log device no longer than a header region, is what writing a new log's header region
/// can leave: zeroes, but where a header slot starts with a magic (a slot written whole, or torn). Anything else is
/// not a log.
fn left_by_a_new_log(b: &[u8]) -> bool {
    // The slots of either layout: a new log's header region of a build before session 44 is 1,024 bytes.
    let slots = SLOT_AT.map(|at| (at as usize).min(b.len())..(at as usize + SLOT_LEN).min(b.len()));
    let in_slot = |i: usize| slots.iter().any(|s| s.contains(&i));
    let slot_ok = |s: &[u8]| {
        s.iter().all(|&x| x == 0)
            || [MAGIC, MAGIC_BOUNDED, MAGIC_FORMAT, MAGIC_BLOCKS]
                .iter()
                .any(|m| s.starts_with(&m[..]) || m.starts_with(s))
    };
    b.iter().enumerate().all(|(i, &x)| x == 0 || in_slot(i))
        && slots.iter().all(|s| slot_ok(b.get(s.clone()).unwrap_or(&[])))
}

/// A fresh log identity: not secret, only different from every other log's (time, process, a counter and an
/// address, mixed); never 0, which marks "no log" nowhere but is kept free.
fn new_log_id() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let local = 0u8;
    let mut x = nanos
        ^ (u64::from(std::process::id()) << 32)
        ^ COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ (&local as *const u8 as u64);
    // splitmix64's finaliser.
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (x ^ (x >> 31)).max(1)
}

/// Truncation's own state, under the `trunc` mutex (taken before `io`: one truncation at a time).
struct Trunc {
    /// Byte offset in the current file below which the dead records' space has been given back (punched).
    punched: u64,
    /// The file system refused a punch: every later truncation rewrites.
    no_punch: bool,
    /// [`REWRITE_LEN`], or the bound [`TreeWal::set_rewrite_len`] set.
    rewrite_len: u64,
    /// Truncations that rewrote the file.
    rewrites: u64,
    /// A bounded log: whether region 0 / 1 may hold records of an origin a switch into it may take again (a
    /// switch's copy left by a crash before its header, or by a failed switch): zeroed past the copy then.
    stale: [bool; 2],
    /// A bounded log's switches of region so far.
    switches: u64,
}

/// The LSN past which a bounded log refuses appends (a quarter of its region kept for a checkpoint: module docs,
/// "A bounded log on a storage"); `u64::MAX` for an unbounded log.
fn append_end(origin: Lsn, region_len: u64) -> Lsn {
    match region_len {
        0 => u64::MAX,
        len => origin + len - len / 4,
    }
}

/// Gives back the space of `len` bytes of `file` from `offset` (a hole: they read as zeros), its length kept.
fn punch_hole(file: &File, offset: u64, len: u64) -> std::result::Result<(), rustix::io::Errno> {
    use rustix::fs::FallocateFlags;
    rustix::fs::fallocate(
        file,
        FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE,
        offset,
        len,
    )
}

/// Which side of a rewrite's copy failed: reading the log, or writing its new file.
enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

/// Copies `len` bytes of `from` at `at` to `to` at `to_at`, through `chunk`.
fn copy_range(from: &File, to: &File, at: u64, to_at: u64, len: u64, chunk: &mut [u8]) -> Result<(), CopyError> {
    copy_through(
        |b, o| from.read_exact_at(b, o),
        |b, o| to.write_all_at(b, o),
        at,
        to_at,
        len,
        chunk,
    )
}

/// Copies `len` bytes of `dev` at `at` to `to_at` (a bounded log's switch), through `chunk`.
fn copy_dev(dev: &Device, at: u64, to_at: u64, len: u64, chunk: &mut [u8]) -> Result<(), CopyError> {
    copy_through(
        |b, o| dev.read_exact_at(b, o),
        |b, o| dev.write_all_at(b, o),
        at,
        to_at,
        len,
        chunk,
    )
}

/// The copy of [`copy_range`] and [`copy_dev`]: `len` bytes read by `read` from `at` on, written by `write` from
/// `to_at` on, a `chunk` at a time.
fn copy_through(
    read: impl Fn(&mut [u8], u64) -> io::Result<()>,
    write: impl Fn(&[u8], u64) -> io::Result<()>,
    at: u64,
    to_at: u64,
    len: u64,
    chunk: &mut [u8],
) -> Result<(), CopyError> {
    let mut done = 0u64;
    while done < len {
        let n = (len - done).min(chunk.len() as u64) as usize;
        read(&mut chunk[..n], at + done).map_err(CopyError::Read)?;
        write(&chunk[..n], to_at + done).map_err(CopyError::Write)?;
        done += n as u64;
    }
    Ok(())
}

/// Writes zeros over `dev`'s bytes from `at` to `end` (nothing if `end <= at`), `chunk` bytes a write: an open's
/// cut of a storage log's torn tail ([`Device::cut`]), a bounded log's switch into a stale region (64 KiB), a
/// file's zeroed tail ([`ZERO_CHUNK`]).
fn zero_dev(dev: &Device, mut at: u64, end: u64, chunk: usize) -> io::Result<()> {
    let zeros = vec![0u8; chunk];
    while at < end {
        let n = (end - at).min(zeros.len() as u64) as usize;
        dev.write_all_at(&zeros[..n], at)?;
        at += n as u64;
    }
    Ok(())
}

/// Bytes a write of a file's zeroed tail: one page. Linux sizes a page-cache folio by the write that creates it
/// (ext4 takes large folios), and a commit that later dirties a few bytes of a large folio makes its fsync write
/// the whole folio: with 64 KiB writes of zeros, the TPC-C durable run's device writes grew from 1.5 to about
/// 18 pages a transaction (`/proc/self/io`), with 4 KiB writes they stay as before.
const ZERO_CHUNK: usize = 4096;

/// Where a growth of the zeroed tail past records ending at byte `end` stops: the next multiple of [`GROW_STEP`]
/// a step past `end` (a write-out's growth, and a rewrite's new file).
fn zeroed_end(end: u64) -> u64 {
    (end + GROW_STEP).next_multiple_of(GROW_STEP)
}

struct LogFile {
    dev: Device,
    /// LSN stored at byte `base`.
    origin: Lsn,
    /// First LSN recovery reads.
    start: Lsn,
    /// Sequence number of the header slot in force.
    seq: u64,
    /// Byte offset of the header slot in force. A cut writes the other one, whatever their sequence numbers: a
    /// rewrite's new file (and a new log) holds its header in slot 0 only, whatever its sequence, and a cut
    /// choosing its slot by the parity of its own sequence (as one did) overwrote that only valid header after a
    /// rewrite of odd sequence, so a crash tearing the write left no header at all (R10-1 in RELIABILITY.md).
    slot: u64,
    /// Byte offset of `origin`: the header region's end ([`Layout::hdr`]), or a bounded log's second region's
    /// start, or (an unbounded log on a storage moved to the block layout in place) where its records lie.
    base: u64,
    /// A bounded log's region length; 0 for an unbounded log (module docs, "A bounded log on a storage").
    region_len: u64,
    /// The identity of the data file the log serves, as its header slots name it ([`TreeWal::data_file`]; 0:
    /// none named). Changed only under `trunc` and `io`.
    data: u32,
    /// Where the header slots lie: [`Layout::Blocks`] but in a log of the layout before session 44 not moved yet
    /// (module docs, "The block layout"). Changed only under `io`, by an open.
    layout: Layout,
    /// A file's byte offset up to which it holds records or zeros, written by a write-out that fsyncs (module
    /// docs, "A file's zeroed tail"); `u64::MAX` for a storage, which never grows so. Changed only under `io`
    /// (a `Cell`: a `LogFile` is reached only through the lock, or is a switch's local one).
    zeroed: Cell<u64>,
}

impl LogFile {
    fn offset(&self, lsn: Lsn) -> u64 {
        self.base + (lsn - self.origin)
    }

    /// The end of the records the region in force can hold (`u64::MAX` for an unbounded log): a write-out that
    /// would pass it is refused for space.
    fn region_end_lsn(&self) -> Lsn {
        match self.region_len {
            0 => u64::MAX,
            len => self.origin + len,
        }
    }

    /// The byte offset where the region in force ends (`u64::MAX` for an unbounded log).
    fn region_end(&self) -> u64 {
        match self.region_len {
            0 => u64::MAX,
            len => self.base + len,
        }
    }

    /// The header naming this log from `start` on, with sequence `seq`.
    fn header(&self, id: u64, start: Lsn, seq: u64) -> Header {
        Header {
            id,
            origin: self.origin,
            start,
            seq,
            base: self.base,
            region_len: self.region_len,
            data: self.data,
            format: LOG_FORMAT,
            layout: self.layout,
        }
    }
}

/// The tree's write-ahead (redo) log. Give it to the tree ([`crate::Tree::open`]), which opens its data file with
/// this log as the file's own WAL in the pool.
///
/// ```
/// use std::sync::Arc;
/// use bufpool_btree::{BufferPool, Tree, TreeWal};
///
/// # fn main() -> Result<(), bufpool_btree::Error> {
/// let dir = tempfile::tempdir().unwrap();
/// let wal = TreeWal::open(dir.path().join("t.wal"))?; // created empty if missing; a torn tail is cut
/// let pool = Arc::new(BufferPool::builder().frames(64).build()?);
/// let tree = Tree::open(pool, wal.clone(), dir.path().join("t.db"))?;
///
/// tree.put(b"k", b"v")?;
/// assert!(wal.durable_lsn() < wal.end_lsn()); // appended, not yet durable
/// tree.commit()?;
/// assert_eq!(wal.durable_lsn(), wal.end_lsn());
///
/// // One opener at a time: the log of a live tree is locked.
/// let second = TreeWal::open(dir.path().join("t.wal"));
/// assert!(matches!(second, Err(bufpool_btree::Error::Pool(bufpool::Error::FileLocked { .. }))));
/// # Ok(()) }
/// ```
///
/// # Layout
/// The fields are in three groups, each starting on a cache line of its own: those read on every append and
/// rarely changed (the redo point, the dependency, the pages' dependency notes, the failure), those a write-out
/// changes (`io`, `durable`, the fsync counts), and those every append changes (`state` and the counts stored
/// under it). A log shared by the threads that append to it (a transaction log, a tree's log) moves the last
/// group's lines between their cores at every append anyway; before session 53 the first group shared lines
/// with it, so every read of the redo point or of the dependency moved a line too (BENCHMARKS.md, "Session 53").
#[repr(C)]
pub struct TreeWal {
    /// The log file's path; `None` for a log on a [`Storage`].
    path: Option<PathBuf>,
    /// This log's identity (stored in its header and in its tree's meta page).
    id: u64,
    /// `io.start`, readable without the lock (stored under it).
    start: AtomicU64,
    /// A bounded log: the end of the appended log past which [`TreeWal::check`] refuses appends (`append_end`,
    /// stored under `io` at a switch); `u64::MAX` for an unbounded log.
    append_end: AtomicU64,
    /// The latest checkpoint's redo point: a leaf whose page LSN is at or below it is logged as a full image.
    redo_lsn: AtomicU64,
    /// Full-page writes: a leaf's first change after the redo point logged as its image (the default). Off for a
    /// tree whose data file has the pool's doublewrite area ([`crate::TreeOptions::doublewrite`]): the change is
    /// logged as its op, a covered one as nothing, unless the leaf was never logged (LSN 0: "Torn pages: the
    /// doublewrite area" in the module docs). Set by the tree that claims the log, before its open.
    page_images: AtomicBool,
    failed: OnceLock<Arc<str>>,
    /// The log made durable before any of this log's bytes are written ([`TreeWal::flush_first`]).
    first: OnceLock<Arc<TreeWal>>,
    /// Per page of this log's tree, how far the dependency must be durable before the page is written
    /// (`deps.rs`); only pages that may hold covered changes are noted.
    deps: PageDeps,
    /// How many of `dependents` hold more than [`BUF_HARD_MAX`] buffered bytes or are bounded logs past three
    /// quarters of their region (their `State::over`): while any does, an append to this log first tries to
    /// write them out, and is refused for space if that is (module docs, "A full device") or if one is past its
    /// region's bound ("A bounded log on a storage").
    dependents_over: AtomicUsize,
    /// The log serves a tree: claimed by one, or naming its data file in its header ([`TreeWal::data_file`]).
    /// Its records and cuts are then the tree's own, and the raw calls a layer above makes on its own log
    /// ([`TreeWal::append`], [`TreeWal::append_leaf`], [`TreeWal::truncate_before`]) are refused on it
    /// ([`Error::TreeOwnsLog`], R35-1 in RELIABILITY.md). Stored under `claim`; one load per such call.
    serves_tree: AtomicBool,
    /// Whether a [`crate::Tree`] holds this log ([`TreeWal::claim_for_tree`]): a log serves one tree.
    claim: Mutex<Claim>,
    /// The logs that depend on this one ([`TreeWal::flush_first`]).
    dependents: Mutex<Vec<Weak<TreeWal>>>,
    /// Where the fields every write-out changes begin: `io` and what is stored under it (`repr(C)` and a zero-length
    /// array of cache-line alignment put them on lines of their own; [`TreeWal`]'s layout note).
    _io_lines: [CachePadded<()>; 0],
    io: Mutex<LogFile>,
    /// Truncation: one at a time, taken before `io`, held across a punch or a rewrite's copy (which run
    /// without `io` for the most part).
    trunc: Mutex<Trunc>,
    /// Everything before this LSN is on stable storage.
    durable: AtomicU64,
    /// fsyncs of the log done so far, by [`SyncCause`] (in the order of [`SyncCause::ALL`]).
    syncs: [AtomicU64; SyncCause::ALL.len()],
    /// Growths of the file's zeroed tail so far, each a write of zeros ([`TreeWal::grows`]).
    grows: AtomicU64,
    /// Where the fields every append changes begin (on lines of their own, as `_io_lines`).
    _append_lines: [CachePadded<()>; 0],
    state: Mutex<State>,
    /// `state.next`, readable without the lock: stored under it after every append, only grows. A log that
    /// depends on this one reads it to note how far this log must be durable for a page or a record.
    appended: AtomicU64,
    /// `state.buf.len()`, readable without the lock (stored under it at every change of the length, by
    /// `note_over`): what [`TreeWal::check`] and [`TreeWal::write_out`] compare with the bounds, so that neither
    /// takes the lock the appends take.
    buffered: AtomicUsize,
    /// `state.buf.len() + state.taken`, readable without the lock (stored with `buffered`): the bytes appended
    /// and not yet written, which [`TreeWal::check`] bounds. Not `buffered`: while a write-out holds the
    /// records it took, the buffer looks nearly empty, and until R22-1 every append on another thread passed
    /// the check then, however full the device.
    unwritten: AtomicUsize,
    /// A bounded log: bytes of records admitted ([`TreeWal::reserve`]) and not yet appended (or appended, their
    /// [`Room`] not yet dropped): counted against `append_end` with `appended` (R25-O1 in RELIABILITY.md).
    reserved: AtomicU64,
}

/// Room reserved in a bounded log for a record ([`TreeWal::reserve`]): counted against its region's bound until
/// dropped (after the append it admitted, whose end `appended` then counts).
pub(crate) struct Room<'a> {
    wal: &'a TreeWal,
    bytes: u64,
}

impl Drop for Room<'_> {
    fn drop(&mut self) {
        if self.bytes > 0 {
            self.wal.reserved.fetch_sub(self.bytes, Ordering::SeqCst);
        }
    }
}

/// [`TreeWal::claim`]: free, or held by a [`TreeClaim`] (whose tree may be dropped already).
#[derive(Default)]
struct Claim {
    held: bool,
    /// The tree made under the claim was dropped: the claim lasts only as long as the pool holds its data file.
    tree_dropped: bool,
}

/// How long [`TreeWal::claim_for_tree`] waits for the claim of a dropped tree whose data file was closed, for the
/// calls still holding that file in the pool to end (the pool lets go of a closed file's log when they do).
const CLAIM_WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(1);

/// A tree's claim on its log ([`TreeWal::claim_for_tree`]), held both by the [`crate::Tree`] and by the pool, as
/// the data file's log ([`bufpool::FileOptions::wal`]; it forwards to the [`TreeWal`]): the log is free again only
/// once the tree is dropped and the data file closed or dropped in the pool. A tree dropped without `close` left
/// its file open in the pool with its unwritten changes only in the log; a tree opened on the log meanwhile, on
/// another data file, replayed them into that file and its checkpoint cut the log (R17-1 in RELIABILITY.md).
pub(crate) struct TreeClaim(Arc<TreeWal>);

impl TreeClaim {
    /// The log claimed.
    pub(crate) fn wal(&self) -> &Arc<TreeWal> {
        &self.0
    }

    /// The tree made under the claim is dropped: the claim now lasts only as long as the pool holds its file.
    pub(crate) fn tree_dropped(&self) {
        self.0.claim.lock().tree_dropped = true;
    }
}

impl Drop for TreeClaim {
    fn drop(&mut self) {
        // Free for another tree; still the tree's (its raw calls refused) if its header names the data file.
        let bound = self.0.data_file().is_some();
        let mut claim = self.0.claim.lock();
        *claim = Claim::default();
        self.0.serves_tree.store(bound, Ordering::Release);
    }
}

impl bufpool::Wal for TreeClaim {
    fn flush_to(&self, lsn: Lsn) -> bufpool::Result<()> {
        self.0.flush_to(lsn)
    }

    fn flush_for_pages(&self, lsn: Lsn, first: bufpool::PageId, count: usize) -> bufpool::Result<()> {
        self.0.flush_for_pages(lsn, first, count)
    }

    fn needs_flush_for_pages(&self, lsn: Lsn, first: bufpool::PageId, count: usize) -> bool {
        self.0.needs_flush_for_pages(lsn, first, count)
    }
}

impl std::fmt::Debug for TreeWal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreeWal")
            .field("path", &self.path)
            .field("id", &self.id)
            .field("durable", &self.durable.load(Ordering::Relaxed))
            .finish()
    }
}

impl Drop for TreeWal {
    fn drop(&mut self) {
        // Counted past the bound by its dependency (`note_over`): counted no more.
        if self.state.get_mut().over {
            if let Some(first) = self.first.get() {
                first.dependents_over.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }
}

/// A log, for its errors: its path, or "the log storage" for a log on a [`Storage`]. Every [`Error::Log`] names
/// it, so that an engine with many logs (a tree each) can tell which one failed.
#[derive(Clone, Copy)]
struct LogName<'a>(Option<&'a Path>);

impl std::fmt::Display for LogName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(path) => write!(f, "log {}", path.display()),
            None => f.write_str("the log storage"),
        }
    }
}

/// What to do after an I/O error opening a log: nothing was opened.
const AT_OPEN: &str = "nothing was opened: fix the cause and open the tree again";
/// What to do after the log failed: it refuses every commit from then on.
const FAILED: &str = "the log refuses every change from now on: fix the device, then open the tree again after a \
    restart (a new pool): recovery replays every commit the log made durable";
/// Why a write-out's fsync failed the log when no name led to its file any more (R41-2).
const UNLINKED: &str = "the log file was deleted or replaced while open: no name leads to the file these records \
    were synced to, so they are not durable under the log's name (a reopen finds another log, or none)";
/// What to do after a cut failed: the log is whole and in force.
const CUT_KEPT: &str = "the log is kept whole and goes on; the next checkpoint cuts it again";

/// [`Error::Log`]: `what` failed on the log `name` with `e`, and what to do.
fn log_err(name: LogName<'_>, what: &str, e: impl std::fmt::Display, todo: &str) -> Error {
    Error::Log(format!("{name}: {what}: {e}; {todo}"))
}

/// A cut's failure that leaves the log in force and unfailed (a punch, a rewrite before its rename): refused for
/// space, [`Error::NoSpace`] (R14-2: retryable, not a failed log); else [`Error::Log`].
fn cut_err(name: LogName<'_>, what: &str, e: io::Error) -> Error {
    space_or_log_err(name, what, e, CUT_KEPT)
}

/// A write that failed and changed nothing the log relies on: refused for space, [`Error::NoSpace`] (retryable);
/// else [`Error::Log`] with what to do, `todo`.
fn space_or_log_err(name: LogName<'_>, what: &str, e: io::Error, todo: &str) -> Error {
    match is_no_space(&e) {
        true => Error::NoSpace(format!("{name}: {what}: {e}")),
        false => log_err(name, what, e, todo),
    }
}

/// Whether a write failed because the device is full (ENOSPC, EDQUOT): the kernel refused the bytes it did not
/// take and dropped nothing, so the write may be done again (see the module docs, "A full device"). The same
/// classification as the pool's `bufpool::Error::NoSpace`.
fn is_no_space(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
        || matches!(e.kind(), io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded)
}

/// Refuses a log path that is not a regular file ([`TreeWal::open`]; R29-1): its length from `metadata` is not the
/// bytes it holds (a block device's reads as 0, which the open took for a new log and wrote a header over).
fn refuse_special(path: &Path, m: &std::fs::Metadata) -> Result<()> {
    if m.is_file() {
        return Ok(());
    }
    Err(Error::Log(format!(
        "{} is a {}, not a regular file; nothing was opened or written: a log is a regular file (a log on a \
         device: TreeWal::open_storage with a storage that knows its size)",
        LogName(Some(path)),
        bufpool::storage::file_kind(m)
    )))
}

/// Takes the exclusive lock of log file `file` (at `path`), held until the file is closed: a log held by another
/// opener (a tree on it is open, in this process or another) is refused with the pool's
/// [`bufpool::Error::FileLocked`] ([`TreeWal::open`]).
fn lock_log(file: &File, path: &Path) -> Result<()> {
    file.try_lock().map_err(|e| match e {
        std::fs::TryLockError::WouldBlock => Error::Pool(bufpool::Error::FileLocked {
            path: path.to_path_buf(),
        }),
        std::fs::TryLockError::Error(e) => log_err(LogName(Some(path)), "lock", e, AT_OPEN),
    })
}

/// Opens the log file at `path` (made if missing) and locks it ([`lock_log`]): the file the name leads to once the
/// lock is held. A rewrite by the log's opener (a checkpoint's cut, an open's move to the block layout) locks its
/// new file, renames it over the name and drops the old file, whose lock goes with it; a file opened before such a
/// rename and locked after it is the old, unlinked one, so the name is opened again. Once the lock is held and
/// the name leads to the locked file, nothing renames over the name (only the holder of a log's lock rewrites it).
/// Until this check an open that met the rename so opened the stale file: it was not refused, and its removal of
/// `<name>.tmp` took the live log's next rewrite from under it, which failed the live log (R45-3 in RELIABILITY.md).
/// After [`OPEN_LOCKED_TRIES`] files replaced under it, the log is another opener's: `FileLocked`.
fn open_locked(path: &Path) -> Result<File> {
    let name = LogName(Some(path));
    for _ in 0..OPEN_LOCKED_TRIES {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| log_err(name, "open", e, AT_OPEN))?;
        let m = file.metadata().map_err(|e| log_err(name, "stat", e, AT_OPEN))?;
        refuse_special(path, &m)?;
        lock_log(&file, path)?;
        // Through the name's links, as the open went.
        if std::fs::metadata(path).is_ok_and(|now| (now.dev(), now.ino()) == (m.dev(), m.ino())) {
            return Ok(file);
        }
    }
    Err(Error::Pool(bufpool::Error::FileLocked {
        path: path.to_path_buf(),
    }))
}

/// Files an open of a log by path takes and finds replaced under its name before it gives up ([`open_locked`]).
const OPEN_LOCKED_TRIES: usize = 8;

/// Reads the record at the reader's position: `Ok(None)` at the end of the valid log (short, torn or foreign
/// bytes), `Err` if the device failed (an I/O error is never taken for the end of the log: the caller would cut
/// valid records).
fn read_record(r: &mut impl Read, name: LogName<'_>, expect_lsn: Lsn, buf: &mut Vec<u8>) -> Result<Option<()>> {
    let eof_is_end = |e: io::Error| match e.kind() {
        io::ErrorKind::UnexpectedEof => Ok(None),
        _ => Err(log_err(
            name,
            "read",
            e,
            "nothing of the log was changed: fix the device and read it again (open the tree again)",
        )),
    };
    let mut hdr = [0u8; REC_HDR];
    if let Err(e) = r.read_exact(&mut hdr) {
        return eof_is_end(e);
    }
    let word = |o: usize| u32::from_le_bytes([hdr[o], hdr[o + 1], hdr[o + 2], hdr[o + 3]]);
    let (crc, len) = (word(0), word(4) as usize);
    let lsn = u64::from(word(8)) | (u64::from(word(12)) << 32);
    if !(REC_HDR + 2..=RECORD_MAX).contains(&len) || lsn != expect_lsn {
        return Ok(None);
    }
    buf.clear();
    buf.resize(len - REC_HDR, 0);
    if let Err(e) = r.read_exact(buf) {
        return eof_is_end(e);
    }
    let mut h = crc32c::crc32c(&hdr[4..]);
    h = crc32c::crc32c_append(h, buf);
    Ok((h == crc).then_some(()))
}

impl TreeWal {
    /// Opens the log at `path`, creating an empty one (with a new identity) if the file is missing or shorter
    /// than its header and holds only what a crash writing a new log's header leaves (zeroes, header slots); a
    /// short file of other bytes is not a log, and is refused ([`Error::Log`]) unchanged (R28-4). Finds the end
    /// of the valid records and cuts off anything after it (a torn tail), so new records never mix with stale
    /// bytes.
    ///
    /// A log is a regular file, as a data file is (`bufpool::Error::NotARegularFile`): a block or character
    /// device, a FIFO or a socket at `path` (or where a symbolic link at `path` leads) is refused with
    /// [`Error::Log`], nothing read or written (R29-1 in RELIABILITY.md: a block device's length reads as 0, so
    /// the open wrote a new log's header over the device's first KiB, and over a log it held). A log on a device
    /// goes through [`TreeWal::open_storage`] with a storage that knows its size.
    ///
    /// A log opened through a symbolic link is the file the link leads to: a checkpoint that rewrites the log
    /// renames its new file over that file, in its directory, and the link stays (R30-2 in RELIABILITY.md: the
    /// rename replaced the link, and the file it led to kept the log as it was before the cut). Where it leads is
    /// read once, before the file is opened, so the file opened is the one the log's rewrites replace (R46-11: a
    /// link pointed elsewhere during the open gave the log another file's name).
    ///
    /// Every open fsyncs the log's directory, so the name is durable before a record is trusted or appended: an
    /// open whose directory fsync failed is not followed by one that trusts the name (R42-5 in RELIABILITY.md).
    ///
    /// The file is locked (`flock`, exclusive) while the log is open: a log another opener has open (a live
    /// tree, in this process or another) is refused before it is read ([`bufpool::Error::FileLocked`]), since
    /// its cut would take records the live log appends meanwhile (R13-1 in RELIABILITY.md). The lock is of the
    /// file the name leads to once it is held, not of one a rewrite by the live opener has just replaced (R45-3).
    ///
    /// A log whose header names a record format newer than [`LOG_FORMAT`] (a newer build's) is refused with
    /// [`Error::LogFormat`] before anything is read or written, on every open path. A log written before session
    /// 42 (no format in its header) opens with every record, and its header is rewritten in this build's layout
    /// before the open returns, so that a build before session 42 refuses it from then on instead of cutting the
    /// ops it does not know (module docs, "The format version").
    pub fn open(path: impl AsRef<Path>) -> Result<Arc<TreeWal>> {
        let path = path.as_ref().to_path_buf();
        // Looked at before the open (a FIFO opened for reading and writing is a pipe, a device's open may have
        // effects of its own) and again after it, on what was opened (the path may have changed in between).
        if let Ok(m) = std::fs::metadata(&path) {
            refuse_special(&path, &m)?;
        }
        // The log's name from here on is the file a link at `path` leads to: a rewrite renames its new file over
        // that, not over the link (R30-2 in RELIABILITY.md). Taken before the open, which opens and locks the file
        // at that name (`open_locked` checks the name leads to it once locked): taken after it, a link pointed
        // elsewhere in between gave the log another file's name, and its first rewrite renamed its records over
        // that file, another tree's log maybe (R46-11 in RELIABILITY.md).
        let path = bufpool::storage::replaced_path(&path);
        let file = open_locked(&path)?;
        let tmp = bufpool::storage::temp_path(&path);
        let wal = TreeWal::open_device(Device::File(Arc::new(file)), Some(path), None, LOG_FORMAT)?;
        // A rewrite that a crash stopped before its rename left its copy under `<name>.tmp`: never the log (the
        // rename that makes a copy the log takes that name away), only space, up to a rewrite's tail (hundreds of
        // MB at [`REWRITE_LEN`]), which stayed taken until this log's next rewrite (R30-24 in RELIABILITY.md). A
        // live rewrite's copy is its own opener's, who holds the log's lock: an open that got the lock has none.
        let _ = std::fs::remove_file(tmp);
        Ok(wal)
    }

    /// [`TreeWal::open`] on a [`Storage`] instead of a file (see the module docs: truncation does not give space
    /// back, and the storage must accept unaligned I/O). A log made with a capacity
    /// ([`TreeWal::open_storage_with_capacity`]) is opened with it, found in its header: it still gives space back.
    ///
    /// The storage's lock ([`Storage::try_lock`]) is taken first, as [`TreeWal::open`] locks its file (R13-O2):
    /// a file-backed storage (`FileStorage`, `UringStorage`) whose file another opener holds (a log of a live
    /// tree, opened by path or by another storage on the same file) is refused with
    /// [`bufpool::Error::FileLocked`], naming "the log storage", before it is read or cut; so is one file storage
    /// shared through an `Arc` while another log (or a pool) has it (R41-3 in RELIABILITY.md), and its lock is
    /// given back when the log is dropped. A storage without a lock (memory, `FaultyStorage`, the default of a
    /// caller's own) cannot tell a second opener: the caller must not open two logs on one such storage while a
    /// tree uses either.
    pub fn open_storage(storage: impl Storage) -> Result<Arc<TreeWal>> {
        storage.try_lock().map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock => Error::Pool(bufpool::Error::FileLocked {
                path: PathBuf::from("the log storage"),
            }),
            _ => log_err(LogName(None), "lock", e, AT_OPEN),
        })?;
        // Held so that the lock is given back when the log is dropped or its open refused (R41-3).
        TreeWal::open_device(Device::Storage(Arc::new(Opened::new(storage))), None, None, LOG_FORMAT)
    }

    /// [`TreeWal::open_storage`] of a log that uses at most `capacity` bytes of the storage, its header included,
    /// and so gives back the space of the records checkpoints cut (module docs, "A bounded log on a storage"):
    /// the storage past the header is two regions of `(capacity - 1024) / 2` bytes, and a checkpoint's cut
    /// copies the kept tail into the other region when the one in force is half full. Appends that would fill
    /// the region past what a checkpoint needs are refused with [`Error::NoSpace`] (nothing appended) until a
    /// checkpoint cuts: a caller checkpoints by [`TreeWal::log_bytes`], well under a quarter of a region, and
    /// never meets it. With a dependency ([`TreeWal::flush_first`]) its tree's covered changes are not refused
    /// here but by the log above, whose appends are refused while this log is past that bound (R25-4).
    ///
    /// The capacity is kept in the log's header: a later open of the log, with this call (the same capacity) or
    /// with [`TreeWal::open_storage`], finds it. Refused ([`Error::Log`], nothing opened or changed) if a region
    /// would be shorter than [`REGION_MIN`], if the storage holds a log made with another capacity, or one made
    /// without a capacity (its records lie past where a region would end).
    pub fn open_storage_with_capacity(storage: impl Storage, capacity: u64) -> Result<Arc<TreeWal>> {
        // The smallest a log of either layout can have; a new log's (the block layout's) is checked at its making.
        let region_len = Layout::Sectors.region_len(capacity);
        if region_len < REGION_MIN {
            return Err(Error::Log(format!(
                "the log storage: a capacity of {capacity} bytes leaves regions of {region_len} bytes, less than \
                {REGION_MIN}; nothing was opened: give at least {}",
                LOG_HDR + 2 * REGION_MIN
            )));
        }
        storage.try_lock().map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock => Error::Pool(bufpool::Error::FileLocked {
                path: PathBuf::from("the log storage"),
            }),
            _ => log_err(LogName(None), "lock", e, AT_OPEN),
        })?;
        TreeWal::open_device(
            Device::Storage(Arc::new(Opened::new(storage))),
            None,
            Some(capacity),
            LOG_FORMAT,
        )
    }

    /// Opens the log on `dev`; `bounded`, a bounded log's capacity ([`TreeWal::open_storage_with_capacity`]);
    /// `known`, the newest record format the caller reads ([`LOG_FORMAT`]; a unit test gives less, to be a build
    /// before this one).
    fn open_device(dev: Device, path: Option<PathBuf>, bounded: Option<u64>, known: u32) -> Result<Arc<TreeWal>> {
        let name = LogName(path.as_deref());
        let len = dev.len().map_err(|e| log_err(name, "stat", e, AT_OPEN))?;
        let mut best: Option<(Header, u64)> = None;
        // Whether a slot holds a legacy header (`BPTWAL02`, `BPTWAL03`): rewritten below, before any record of
        // this build can be appended ("The format version").
        let mut legacy = false;
        // Whether a slot of the sector layout was read (the slot in force or not): a log moved to the block layout
        // has none left once its open returns (`upgrade_header`).
        let mut sectors = false;
        // Whether slot 0 holds a valid slot of the sector layout, whose byte 4096 holds records (never refused as
        // a newer build's slot 1).
        let mut sectors_at_0 = false;
        // The header region as the device holds it, past the page cache (one read of two blocks): every slot this
        // open trusts, and every slot's old bytes it may put back, are the device's (R46-10 in RELIABILITY.md, R43-O5).
        // A slot write whose fsync failed and whose undo (`restore_slot`) did not happen (it failed too, or the
        // process died first) stays in Linux's page cache, clean, for every later open on the same running system:
        // read through the cache it was the slot in force, and `secure_header` wrote its contents over the other
        // slot, the only one on the device, so a power loss garbling that write left no slot that names the log's
        // records. Read from the device, the slot in force is durable, and so the slot not in force, which the
        // open writes, is never the only one.
        let mut region = vec![0u8; len.min(LOG_HDR) as usize];
        read_zeros_past_end(&dev, 0, &mut region, true).map_err(|e| log_err(name, "read header", e, AT_OPEN))?;
        for at in SLOT_AT {
            if at + SLOT_LEN as u64 > len {
                continue;
            }
            let b: [u8; SLOT_LEN] = region[at as usize..][..SLOT_LEN].try_into().expect("a slot's bytes");
            // A slot counts only where its layout puts one: byte 512 holds records of a log in the block layout,
            // byte 4096 records of one in the sector layout (whose bytes are never taken for a newer build's slot).
            let h = Header::decode(&b).filter(|h| at == 0 || h.layout.slots()[1] == at);
            // Any slot of a newer format refuses the log, before anything is read or written: its records may
            // hold ops this build would take for the log's torn end (L41-O1 in RELIABILITY.md).
            let newer = match h {
                Some(h) => (h.format > known).then_some(Some(h.format)),
                None => (!(at == BLOCK && sectors_at_0)
                    && b.starts_with(MAGIC_FAMILY)
                    && ![MAGIC, MAGIC_BOUNDED, MAGIC_FORMAT, MAGIC_BLOCKS]
                        .iter()
                        .any(|m| b.starts_with(&m[..])))
                .then_some(None),
            };
            if let Some(found) = newer {
                return Err(Error::LogFormat {
                    log: name.to_string(),
                    found,
                    known,
                });
            }
            if let Some(h) = h {
                legacy |= h.format == 0;
                sectors |= h.layout == Layout::Sectors;
                sectors_at_0 |= at == 0 && h.layout == Layout::Sectors;
                if best.is_none_or(|(b, _)| h.seq > b.seq) {
                    best = Some((h, at));
                }
            }
        }
        // Whether the header in force was written (and synced) by this open: a new log's.
        let mut made = false;
        let (hdr, slot) = match best {
            Some((h, _)) if bounded.is_some_and(|cap| h.layout.region_len(cap) != h.region_len) => {
                return Err(Error::Log(format!(
                    "{name} holds a log made with {}, opened with a capacity of {} bytes; nothing was opened or \
                    changed: open it with the capacity it was made with (or TreeWal::open_storage)",
                    match h.region_len {
                        0 => "no capacity (its records are never moved)".to_string(),
                        r => format!("a capacity of {} bytes", h.layout.hdr() + 2 * r),
                    },
                    bounded.unwrap_or(0)
                )))
            }
            Some(found) => found,
            // Missing, or a crash while the header of a new log was being written: no record can exist yet. Such
            // a crash leaves zeroes and header slots, torn or whole; other bytes are another file's, which a new
            // header would overwrite (R28-4 in RELIABILITY.md): refused below.
            None if len <= LOG_HDR && left_by_a_new_log(&region) => {
                let region_len = bounded.map_or(0, |cap| Layout::Blocks.region_len(cap));
                if bounded.is_some() && region_len < REGION_MIN {
                    return Err(Error::Log(format!(
                        "{name}: a capacity of {} bytes leaves regions of {region_len} bytes, less than {REGION_MIN}; \
                        nothing was opened: give at least {}",
                        bounded.unwrap_or(0),
                        LOG_HDR + 2 * REGION_MIN
                    )));
                }
                let h = Header {
                    id: new_log_id(),
                    origin: FIRST_LSN,
                    start: FIRST_LSN,
                    seq: 0,
                    base: LOG_HDR,
                    region_len,
                    data: 0,
                    format: LOG_FORMAT,
                    layout: Layout::Blocks,
                };
                // Refused for space, the header's write is retryable as the log's other writes are (R36-20): nothing
                // was opened, and the next open finds what it left (zeroes, a torn or whole slot) and starts again.
                // A failed fsync is never that (the module docs, "A full device").
                dev.write_all_at(&h.region(), 0)
                    .map_err(|e| space_or_log_err(name, "write header", e, AT_OPEN))
                    .and_then(|()| dev.sync().map_err(|e| log_err(name, "sync header", e, AT_OPEN)))?;
                made = true;
                (h, 0)
            }
            None => {
                return Err(Error::Log(format!(
                    "{name} has no valid log header: it is not a bufpool-btree log, or both header slots are \
                    damaged; nothing was opened or changed: give the tree's own log"
                )))
            }
        };
        // The log's name, made durable by an fsync of its directory at every open by path, not only the one that
        // made the file: an open whose directory fsync failed left a header a reopen in the same process reads, and
        // that reopen took the name for durable; a power loss could then take the file with every commit it
        // acknowledged (R42-5 in RELIABILITY.md). One directory fsync an open.
        if let Some(p) = &path {
            bufpool::storage::sync_parent_dir(p).map_err(|e| log_err(name, "fsync directory", e, AT_OPEN))?;
        }
        let wal = TreeWal {
            path,
            id: hdr.id,
            _io_lines: [],
            _append_lines: [],
            state: Mutex::new(State {
                buf: Vec::with_capacity(BUF_RESERVE),
                buf_start: hdr.start,
                buf_dep: 0,
                next: hdr.start,
                taken: 0,
                over: false,
                spare: Vec::with_capacity(BUF_RESERVE),
            }),
            io: Mutex::new(LogFile {
                zeroed: Cell::new(match dev {
                    // Set once the open has cut the file at the end of its records (below).
                    Device::File(_) => 0,
                    Device::Storage(_) => u64::MAX,
                }),
                dev,
                origin: hdr.origin,
                start: hdr.start,
                seq: hdr.seq,
                slot,
                base: hdr.base,
                region_len: hdr.region_len,
                data: hdr.data,
                layout: hdr.layout,
            }),
            trunc: Mutex::new(Trunc {
                punched: 0,
                no_punch: false,
                rewrite_len: REWRITE_LEN,
                rewrites: 0,
                // A crash may have left a switch's copy in the region not in force, made for a redo point
                // the next switch may take again (module docs, "A bounded log on a storage").
                stale: [hdr.region_len > 0; 2],
                switches: 0,
            }),
            append_end: AtomicU64::new(append_end(hdr.origin, hdr.region_len)),
            reserved: AtomicU64::new(0),
            start: AtomicU64::new(hdr.start),
            durable: AtomicU64::new(hdr.start),
            redo_lsn: AtomicU64::new(hdr.start),
            failed: OnceLock::new(),
            syncs: Default::default(),
            grows: AtomicU64::new(0),
            first: OnceLock::new(),
            appended: AtomicU64::new(hdr.start),
            buffered: AtomicUsize::new(0),
            unwritten: AtomicUsize::new(0),
            deps: PageDeps::new(),
            dependents: Mutex::new(Vec::new()),
            dependents_over: AtomicUsize::new(0),
            claim: Mutex::new(Claim::default()),
            serves_tree: AtomicBool::new(hdr.data != 0),
            page_images: AtomicBool::new(true),
        };
        let end = wal.scan_records(|_, payload| Ok(ops_decode(payload)))?;
        // A log file of the sector layout moves to the block layout by the file's own cut, a rewrite: its records
        // from the start on copied into `<name>.tmp` under a header region of the block layout, synced, renamed
        // over the log, the directory synced. Atomic by the rename under any power loss (the old file is never
        // written: neither its slots nor its records are in flight), and it does all the open's other writes do:
        // the records read made durable (R39-2), in their new place; the header in force durable (L42-1); no torn
        // tail; no legacy slot left (the new file's slots are `BPTWAL05`). One copy of the records since the last
        // checkpoint, once per log. The move is optional (R44-O1): a rewrite refused before its rename (no room for
        // the copy, most likely: up to a checkpoint's worth of log, 512 MiB of a TPC-C tree's) leaves the file as
        // it was, unfailed, and the log opens in place in the sector layout, as before session 44, for a later open
        // to move (R45-2 in RELIABILITY.md: the open was refused, and a tree that opened on the space it had before
        // session 44 did not open until as much space as its log held was freed).
        if hdr.layout == Layout::Sectors && !made {
            let file = match (&wal.io.lock().dev, &wal.path) {
                (Device::File(f), Some(p)) => Some((f.clone(), p.clone())),
                _ => None,
            };
            if let Some((file, path)) = file {
                {
                    let mut st = wal.state.lock();
                    st.buf_start = end;
                    st.next = end;
                }
                wal.appended.store(end, Ordering::Release);
                let mut tr = wal.trunc.lock();
                match wal.rewrite(&mut tr, &file, &path, hdr.start, hdr.seq + 1) {
                    Ok(()) => {
                        drop(tr);
                        wal.durable.store(end, Ordering::Release);
                        return Ok(Arc::new(wal));
                    }
                    // Failed (a read of the log, the rename, the directory's fsync): refused as before.
                    Err(e) if wal.failed.get().is_some() => return Err(e),
                    Err(_) => {}
                }
            }
        }
        {
            let mut io = wal.io.lock();
            // Whether the records read were copied (and synced) to the block layout's place, below.
            let moved = wal
                .move_to_blocks(&mut io, end)
                .map_err(|e| space_or_log_err(wal.name(), "copy its records to the block layout", e, AT_OPEN))?;
            // The records read are about to count as durable (below): a tree's recovery replays them and writes
            // pages at their LSNs with no further sync of this log. Readable is not durable: records a failed
            // fsync dropped stay readable (Linux keeps the pages cached, marked clean; `FaultyStorage` does the
            // same), and so do records written but not yet synced before a crash of the process. So they are
            // written again and synced first (R39-2 in RELIABILITY.md: a second open after an open whose log
            // fsync failed wrote pages at LSNs the next power loss took from the log): the blocks of them the
            // device does not hold, never the ones it does (R47-10: `rewrite`).
            if !moved {
                rewrite(&io.dev, io.offset(io.start), io.offset(end))
                    .map_err(|e| space_or_log_err(wal.name(), "rewrite the records read", e, AT_OPEN))?;
            }
            // So is the header slot in force, which says where they are, after them (a slot durable first could
            // name records a crash lost). A bounded log's switch whose header fsync failed left its slot readable,
            // naming the new region: an open in the same process trusted it, the commits after it went there, and
            // a power loss brought back the old slot, whose region ends where the switch began (L42-1 in
            // RELIABILITY.md: every commit since lost, pages on disk past the end of the log). Its contents are
            // written to the slot not in force, at the next sequence (a cut that drops nothing), never over the
            // slot in force, and never both slots in one write (R43-1): `secure_header`. Synced with the torn
            // tail's cut (below): one fsync for both.
            let secured = match made {
                true => None,
                false => Some(
                    wal.secure_header(&mut io, &region)
                        .map_err(|e| space_or_log_err(wal.name(), "write its header slot again", e, AT_OPEN))?,
                ),
            };
            // The torn tail, unreadable as records from `end` on before anything is appended there. Synced with
            // the slot's write: neither needs the other durable first. The tail lies past `end`, in the region in
            // force, where no slot names a record (every slot's records end at `end` or before, in this region or
            // the other); the slot names records from `start` to `end`, durable above. A power loss before the
            // fsync leaves the slot written old, new or garbled (the slot read, in force until then, durable:
            // `secure_header`) and the tail partly zeroed; nothing was appended yet, and the next open reads to
            // `end` and cuts again.
            io.dev
                .cut_unsynced(io.offset(end), io.region_end())
                .and_then(|cut| match cut || secured.is_some() {
                    true => io.dev.sync(),
                    false => Ok(()),
                })
                .map_err(|e| {
                    if let Some((at, old)) = &secured {
                        restore_slot(&io.dev, *at, old);
                    }
                    log_err(wal.name(), "cut its torn tail and sync its header slot", e, AT_OPEN)
                })?;
            // A file ends at its last record now (its zeroed tail, if any, cut with the torn one): the first
            // write-out that fsyncs grows it again.
            if let Device::File(_) = io.dev {
                io.zeroed.set(io.offset(end));
            }
            if legacy || (sectors && io.layout == Layout::Blocks) {
                wal.upgrade_header(&mut io)
                    .map_err(|e| log_err(wal.name(), "rewrite its header in this build's format", e, AT_OPEN))?;
            }
        }
        let mut st = wal.state.lock();
        st.buf_start = end;
        st.next = end;
        wal.appended.store(end, Ordering::Release);
        drop(st);
        wal.durable.store(end, Ordering::Release);
        Ok(Arc::new(wal))
    }

    /// Writes the header in force again, not yet synced (the open syncs it with the torn tail's cut), so that it
    /// is durable before the log is trusted: readable is not durable (L42-1 in RELIABILITY.md). The caller holds
    /// `io`. Into the slot not in force, at the next sequence, which becomes the slot in force: a cut that drops
    /// nothing. Returns that slot and its old bytes, for `restore_slot` if the write or its sync fails.
    ///
    /// Never over the slot in force, and never both slots in one write (R43-1): a power loss during a header
    /// write may garble the sectors being written, and the slot not being written must then be on the device and
    /// name every acknowledged record. The slot in force is that (it is durable: below); the other is not in
    /// general: it names an older start, whose records a file's punch may have zeroed, or a bounded log's other
    /// region, whose records end where a switch began. Session 42's open wrote both slots, as read, in one write
    /// of bytes 0..640 (R42-3), whose two sectors a power loss could garble together, leaving no header; written
    /// in place, a garbled slot in force left the older slot in force.
    ///
    /// The slot in force is durable because the open read the header region from the device, past the page cache
    /// (`region`, R46-10 in RELIABILITY.md), and every slot write whose write or sync fails is undone besides
    /// (`restore_slot`: its old bytes written back, so what is read is what the device holds) before the log is
    /// failed or the open refused. A slot readable and not durable (L42-1's switch, R42-3's upgrade) is Linux's
    /// page cache keeping a failed fsync's page, clean, for this process and any later one on the same running
    /// system; the undo covers it unless its own write fails too or the process dies first, and the device read
    /// covers those (R43-O5: read through the cache, the slot was taken for the slot in force, its contents
    /// written over the only slot on the device, and a power loss garbling that write lost the log). `region` also
    /// gives the slot's old bytes: the device's.
    fn secure_header(&self, io: &mut LogFile, region: &[u8]) -> io::Result<(u64, [u8; SLOT_LEN])> {
        let at = io.layout.other_slot(io.slot);
        // The device's bytes (zeros past its end), as the open read them: what a failed write puts back.
        let mut old = [0u8; SLOT_LEN];
        let b = region.get(at as usize..).unwrap_or(&[]);
        let n = b.len().min(SLOT_LEN);
        old[..n].copy_from_slice(&b[..n]);
        io.dev
            .write_all_at(&io.header(self.id, io.start, io.seq + 1).encode(), at)
            .inspect_err(|_| restore_slot(&io.dev, at, &old))?;
        io.slot = at;
        io.seq += 1;
        Ok((at, old))
    }

    /// Rewrites a legacy header (module docs, "The format version") in this build's layout, at an open, before
    /// the log is handed out (the caller holds `io`; `secure_header` has written and synced the slot not in force
    /// already, so one slot at most is still legacy): cuts that drop nothing, each writing the slot not in force
    /// with the header in force at the next sequence, synced, while a slot is legacy. Every write goes to the slot
    /// not in force while the slot in force is durable (R43-1: a power loss that garbles the slot being written
    /// leaves the other). A crash in between leaves a legacy slot that an older build still opens, with no record
    /// of this build's written yet; the next open by this build finishes the job. After it neither slot is one an
    /// older build reads, so from the first append on an older build refuses the log instead of cutting it at the
    /// first op it does not know. (A cut writes the slot not in force only: upgrading there would leave the other
    /// slot legacy, with an older start whose records a punch may have zeroed, and records of this build after
    /// it.) A failed write or fsync puts the slot's old bytes back (`restore_slot`): the slot reads legacy again,
    /// as the device holds it, and the next open upgrades it (R42-3: left readable in this build's layout and
    /// legacy on the device, it made a reopen in the same process take the log for upgraded).
    fn upgrade_header(&self, io: &mut LogFile) -> io::Result<()> {
        // A slot that must go: of a legacy format, or (in a log moved to the block layout) of the sector layout,
        // at byte 0 or 512, where a build before session 44 reads one.
        let stale = |io: &LogFile, at: u64| -> io::Result<bool> {
            let h = Header::decode(&read_slot(&io.dev, at)?);
            Ok(h.is_some_and(|h| h.format == 0 || (io.layout == Layout::Blocks && h.layout == Layout::Sectors)))
        };
        for _ in 0..3 {
            // Bytes 0 and 512: both slots of the sector layout; in the block layout, where a sector layout's were.
            if !stale(io, 0)? && !stale(io, 512)? {
                break;
            }
            let at = io.layout.other_slot(io.slot);
            // In the block layout, slot 0's write zeroes the sector layout's slot at 512 with it: the same block,
            // in flight together whatever is written of it, while slot 1 (another block) is in force and durable.
            let len = match (io.layout, at) {
                (Layout::Blocks, 0) => 512 + SLOT_LEN,
                _ => SLOT_LEN,
            };
            let mut old = vec![0u8; len];
            read_zeros_past_end(&io.dev, at, &mut old, false)?;
            let mut new = vec![0u8; len];
            new[..SLOT_LEN].copy_from_slice(&io.header(self.id, io.start, io.seq + 1).encode());
            io.dev
                .write_all_at(&new, at)
                .and_then(|()| io.dev.sync())
                .inspect_err(|_| restore_slot(&io.dev, at, &old))?;
            io.slot = at;
            io.seq += 1;
        }
        Ok(())
    }

    /// Moves an unbounded log on a storage from the sector layout to the block layout at its open (the caller
    /// holds `io`; the records from `io.start` to `end` were read), where that needs no write into a block that
    /// holds a slot in force or a record it names (module docs, "The block layout"): the next slot written
    /// (`secure_header`) is then the block layout's slot 1, at byte 4096, while the slot in force, in the first
    /// block, stays durable and untouched, and so do its records. Two cases:
    /// - the records lie at byte 8192 or later: nothing moves; the header names them where they are (`base` their
    ///   first byte, `origin` the start);
    /// - they lie below byte 4096 (a young log): they are copied to byte 8192, past every byte a slot names, and
    ///   synced (so R39-2's rewrite of the records read is this copy), and the header names them there.
    ///
    /// Returns whether records were copied. Otherwise (a bounded log, whose regions would have to move and shrink;
    /// an unbounded one whose records lie in the second block, which slot 1 would put in flight; a log file, which
    /// moves by a rewrite) the log stays in the sector layout until a later open can move it (R44-O1).
    fn move_to_blocks(&self, io: &mut LogFile, end: Lsn) -> io::Result<bool> {
        if io.layout != Layout::Sectors || io.region_len != 0 || matches!(io.dev, Device::File(_)) {
            return Ok(false);
        }
        let (from, to) = (io.offset(io.start), io.offset(end));
        let moved = if from >= LOG_HDR {
            io.base = from;
            false
        } else if to <= BLOCK {
            let mut chunk = vec![0u8; (to - from).max(1) as usize];
            copy_dev(&io.dev, from, LOG_HDR, to - from, &mut chunk)
                .map_err(|(CopyError::Read(e) | CopyError::Write(e))| e)?;
            io.dev.sync()?;
            io.base = LOG_HDR;
            true
        } else {
            return Ok(false);
        };
        io.origin = io.start;
        io.layout = Layout::Blocks;
        Ok(moved)
    }

    /// This log's identity: chosen when the log was created, kept by truncation. A tree stores it in its meta
    /// page and refuses to open with another log.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The first LSN the log holds (the redo point of the last checkpoint that cut it).
    pub fn start_lsn(&self) -> Lsn {
        self.io.lock().start
    }

    /// Whether a checkpoint ever cut the log (its start is past the first LSN a new log has).
    pub(crate) fn was_cut(&self) -> bool {
        self.start_lsn() > FIRST_LSN
    }

    /// The identity of the data file this log serves, as its header names it ([`bufpool::BufferPool::file_identity`]
    /// of the tree's data file, written by the tree's open or create once it has checked the pair); `None` for a
    /// log that names none (a new log, one written by a build before session 33, a log above trees such as a
    /// transaction log).
    pub fn data_file(&self) -> Option<u32> {
        Some(self.io.lock().data).filter(|&d| d != 0)
    }

    /// Names the data file this log serves in its header: a header slot naming `identity`, with the same start,
    /// written over the slot not in force and synced (the buffered records written and synced first, as a cut
    /// does: it is a cut that drops nothing). Nothing to do if the header names it already. A tree's open and
    /// create call this once they have checked the pair, so that a later open of another data file with this log
    /// is refused before replay, even where the data file cannot tell (an empty file, a torn meta page: R28-O2
    /// in RELIABILITY.md). Failures are a cut's.
    pub(crate) fn bind_data_file(&self, identity: u32) -> Result<()> {
        let _tr = self.trunc.lock();
        let mut io = self.io.lock();
        if io.data == identity {
            return Ok(());
        }
        let (start, seq, before) = (io.start, io.seq + 1, io.data);
        io.data = identity;
        self.cut_by_header(&mut io, start, seq)
            .inspect_err(|_| io.data = before)
    }

    /// Claims the log for a tree being opened on it: [`Error::LogMismatch`] if a tree holds it already (the log's
    /// file lock is per opener, and one `Arc<TreeWal>` is one opener). A second tree replayed the first's records
    /// into its own file and its checkpoint cut the log the first's unwritten pages needed (R15-3). The claim
    /// lasts until the tree is dropped and its data file closed in the pool ([`TreeClaim`]); a dropped tree's
    /// claim is waited for up to [`CLAIM_WAIT_MAX`], for the calls still holding its closed file to end.
    pub(crate) fn claim_for_tree(self: &Arc<Self>) -> Result<Arc<TreeClaim>> {
        let deadline = std::time::Instant::now() + CLAIM_WAIT_MAX;
        loop {
            let mut claim = self.claim.lock();
            if !claim.held {
                *claim = Claim {
                    held: true,
                    tree_dropped: false,
                };
                self.serves_tree.store(true, Ordering::Release);
                return Ok(Arc::new(TreeClaim(self.clone())));
            }
            if !claim.tree_dropped || std::time::Instant::now() >= deadline {
                return Err(Error::LogMismatch(if claim.tree_dropped {
                    "the log is held by a dropped tree whose data file is still open in the pool (close the file, \
                     BufferPool::close_file, or close the tree, Tree::close)"
                        .into()
                } else {
                    "the log is in use by another open tree (a log serves one tree)".into()
                }));
            }
            drop(claim);
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// Calls `f(end_lsn, ops)` for every valid record from the start of the file, in order; returns the end of
    /// the valid log. Used by recovery (and by `open` to find the end).
    ///
    /// Appends, commits and cuts go on while it reads. A cut made meanwhile past the record the scan has reached
    /// (a tree's checkpoint, [`TreeWal::truncate_before`], or `f` itself) takes the records the scan has not read
    /// yet up to the new start: the scan then stops where they were and refuses ([`Error::Log`]: scan again)
    /// rather than report that as the end (R40-21 in RELIABILITY.md).
    pub fn scan(&self, mut f: impl FnMut(Lsn, Vec<OwnedOp>) -> Result<()>) -> Result<Lsn> {
        self.scan_records(|end, payload| match decode_ops(payload) {
            Some(ops) => f(end, ops).map(|()| true),
            None => Ok(false),
        })
    }

    /// [`TreeWal::scan`] handing `f` each record's payload undecoded ([`decode_ops`] decodes it), for a caller that
    /// decodes records elsewhere (a transaction log's replay in several threads, each decoding the records for
    /// the rows it applies). Every record this log holds decodes: the open cut the log at the first valid record
    /// that did not ([`TreeWal::open`]), and every record appended since is this build's.
    pub fn scan_payloads(&self, mut f: impl FnMut(Lsn, &[u8]) -> Result<()>) -> Result<Lsn> {
        self.scan_records(|end, payload| f(end, payload).map(|()| true))
    }

    /// The reads of [`TreeWal::scan`] and [`TreeWal::scan_payloads`]: `f(end_lsn, payload)` for every valid record
    /// from the start, in order, up to the end of the valid log or the first record `f` takes for it (`false`).
    fn scan_records(&self, mut f: impl FnMut(Lsn, &[u8]) -> Result<bool>) -> Result<Lsn> {
        let io = self.io.lock();
        let dev = io.dev.clone();
        let (mut lsn, at, limit) = (io.start, io.offset(io.start), io.region_end());
        drop(io);
        // A bounded log's records end within its region: what lies past it is the other region's.
        let mut r = BufReader::with_capacity(
            1 << 20,
            DeviceReader {
                dev: &dev,
                pos: at,
                limit,
                past_cache: false,
            },
        );
        let mut buf = Vec::new();
        while read_record(&mut r, self.name(), lsn, &mut buf)?.is_some() {
            let end = lsn + (REC_HDR + buf.len()) as u64;
            if !f(end, &buf)? {
                break;
            }
            lsn = end;
        }
        // Stopped before the log's start: a cut made while this read punched out, or (a bounded log's switch)
        // wrote over, the records from here on, which were there when it began. Not the end of the log.
        let start = self.start_lsn();
        if lsn < start {
            return Err(Error::Log(format!(
                "{}: cut before LSN {start} while this scan read it (it had read to {lsn}): the records between \
                 are gone, and the ones after were not read; scan again",
                self.name()
            )));
        }
        Ok(lsn)
    }

    /// Appends a checkpoint's [`Op::Written`] notes (`Tree::note_cut`: page, the LSN the data file holds it at
    /// least), [`WRITTEN_PER_RECORD`] to a record (module docs, "Dropped writes").
    pub(crate) fn append_notes(&self, pages: &[(PageNo, Lsn)]) -> Result<()> {
        for chunk in pages.chunks(WRITTEN_PER_RECORD) {
            let ops: Vec<Op<'_>> = chunk.iter().map(|&(page, lsn)| Op::Written { page, lsn }).collect();
            check_record(&ops)?;
            self.check_beyond_region()?;
            self.append_checked(&ops);
        }
        Ok(())
    }

    /// `Err` if the log has failed (a write or fsync failed earlier): then it refuses every append and flush.
    /// Also [`Error::NoSpace`] if the log has no dependency and more than [`BUF_HARD_MAX`] bytes buffered, whose
    /// write-out (tried here) the device refused for space: the buffer stays bounded while the device is full.
    /// And [`Error::NoSpace`] if a log that depends on this one ([`TreeWal::flush_first`]) holds more than
    /// [`BUF_HARD_MAX`] bytes whose write-out (tried here) is refused for space: that log's records come with
    /// changes first appended here (a covered change can log its leaf's whole image in its tree's log), so
    /// refusing them here bounds it too (module docs, "A full device"); so also while such a log is bounded
    /// ([`TreeWal::open_storage_with_capacity`]) and past three quarters of its region, until its tree's
    /// checkpoint frees it. And [`Error::NoSpace`] if this log is bounded and past three quarters of its
    /// region, with a dependency or not (module docs, "A bounded log on a storage").
    /// A caller that checks this before changing a page, then logs the change with an append of a record within
    /// the log's bounds ([`TreeWal::append`]), cannot be left with a changed page whose append failed: such an
    /// append fails only for these reasons, and appends nothing then.
    pub fn check(&self) -> Result<()> {
        self.check_room()
    }

    /// [`TreeWal::check`] for a record of at most `bytes` bytes, appended before the returned [`Room`] is dropped:
    /// a bounded log counts them as appended until then (`reserved`), and refuses ([`Error::NoSpace`], nothing
    /// reserved) if the appended end, what is reserved and `bytes` would pass three quarters of its region. So
    /// appends admitted at once, or a change whose record is long (a split cascading over many levels), never
    /// pass that bound, and the quarter past it is a checkpoint's alone (R25-O1 in RELIABILITY.md; module docs, "A
    /// bounded log on a storage"). On an unbounded log (every file log) the same as [`TreeWal::check`]: nothing is
    /// counted. A covered change does not reserve ([`TreeWal::check_beyond_region`]).
    pub(crate) fn reserve(&self, bytes: u64) -> Result<Room<'_>> {
        let end = self.append_end.load(Ordering::Acquire);
        if end == u64::MAX {
            self.check_room_within(end)?;
            return Ok(Room { wal: self, bytes: 0 });
        }
        // SeqCst, with the appends' `appended` store and the release below: of two reservations, the later one
        // (in `reserved`'s order) counts the earlier one, or, released, its record's end in `appended`.
        let held = self.reserved.fetch_add(bytes, Ordering::SeqCst) + bytes;
        let room = Room { wal: self, bytes };
        if self.appended.load(Ordering::SeqCst).saturating_add(held) > end {
            return Err(self.region_full());
        }
        self.check_room_within(u64::MAX)?;
        Ok(room)
    }

    /// [`TreeWal::check`] without a bounded log's region bound, for the two kinds of append the region does not
    /// refuse:
    /// - a checkpoint's own (its meta page's image, its `WRITTEN` notes), since the quarter of the region past the
    ///   bound is kept for them (module docs, "A bounded log on a storage"): a checkpoint runs, and cuts, when
    ///   every other append is refused;
    /// - a covered change's ([`crate::Tree::put_covered`]), whose record the caller appended to the log above
    ///   already, so that it must not fail for room (the log above refused its record instead while this log was
    ///   past the bound: R25-4 in RELIABILITY.md).
    pub(crate) fn check_beyond_region(&self) -> Result<()> {
        self.check_room_within(u64::MAX)
    }

    /// Whether a checkpoint may log its meta page's image (`bytes` long) though an earlier checkpoint noted a
    /// redo point it may cut at instead (`Tree::note_log_start`): always for an unbounded log; for a bounded one,
    /// while the image ends within seven eighths of its region, so that retries refused while the data device is
    /// full leave the last eighth to the checkpoint that cuts (R25-3, R40-2 in RELIABILITY.md). A tree under a
    /// log above that finds no room so checkpoints a second time after its cut (R41-21, `Tree::checkpoint_paced`).
    pub(crate) fn room_for_checkpoint_image(&self, bytes: usize) -> bool {
        let io = self.io.lock();
        let end = self.appended.load(Ordering::Acquire) + (REC_HDR + 64 + bytes) as u64;
        end <= io.region_end_lsn() - io.region_len / 8
    }

    /// The refusal of an append that would take a bounded log past three quarters of its region.
    fn region_full(&self) -> Error {
        Error::NoSpace(format!(
            "{}: its region is three quarters full (the rest is kept for a checkpoint): a checkpoint of its tree \
            (Tree::checkpoint) cuts it and frees it",
            self.name()
        ))
    }

    /// [`TreeWal::check`]: the log has not failed, a bounded log's appended end is within three quarters of its
    /// region, (without a dependency) its buffer is within [`BUF_HARD_MAX`] or can be written out now, and so is
    /// every dependent log's, and no dependent bounded log is past three quarters of its region. A log with a
    /// dependency is not refused for its own buffer: its tree checks it before a covered change whose record is
    /// already appended above, which must then not fail; the log above refuses those appends instead, while this
    /// log is past the bound (module docs, "A full device"). Covered changes check with
    /// [`TreeWal::check_beyond_region`], which a region does not refuse either, for the same reason.
    fn check_room(&self) -> Result<()> {
        self.check_room_within(self.append_end.load(Ordering::Acquire))
    }

    /// [`TreeWal::check_room`], the log refused past `end` (a bounded log's region bound), with a dependency or not.
    fn check_room_within(&self, end: Lsn) -> Result<()> {
        self.check_failed()?;
        // `end` is `u64::MAX` for every unbounded log (all file logs): no load of the appenders' `appended` then.
        if end != u64::MAX && self.appended.load(Ordering::Acquire) > end {
            return Err(self.region_full());
        }
        if self.first.get().is_none() && self.unwritten.load(Ordering::Acquire) > BUF_HARD_MAX {
            let io = self.io.lock();
            self.write_locked(&io, SyncCause::AppendSpill, false)?;
        }
        if self.dependents_over.load(Ordering::Acquire) > 0 {
            self.check_dependents()?;
        }
        Ok(())
    }

    /// [`TreeWal::check_room`] for the logs that depend on this one, some of which hold more than
    /// [`BUF_HARD_MAX`] bytes: each such log writes its buffer out (this log made durable first as far as it
    /// needs), and one refused for space refuses the caller's append with [`Error::NoSpace`]. A dependent log that
    /// has failed is passed over: it takes no more records (its tree refuses changes), so it grows no more.
    #[cold]
    fn check_dependents(&self) -> Result<()> {
        let over: Vec<Arc<TreeWal>> = {
            let mut deps = self.dependents.lock();
            deps.retain(|d| d.strong_count() > 0);
            deps.iter().filter_map(Weak::upgrade).collect()
        };
        for d in over {
            if !d.state.lock().over || d.failed.get().is_some() {
                continue;
            }
            // A bounded log past three quarters of its region: its covered changes cannot be refused there (their
            // record is here already), so their records are refused here, until its tree's checkpoint switches
            // region (R25-4 in RELIABILITY.md).
            if d.end_lsn() > d.append_end.load(Ordering::Acquire) {
                return Err(Error::NoSpace(format!(
                    "a log that depends on this one ({}) has its region three quarters full (the rest is kept for a \
                    checkpoint): a checkpoint of its tree (Tree::checkpoint) cuts it and frees it",
                    d.name()
                )));
            }
            // Lock order: the dependent log's `io`, then (in its write-out) this log's.
            let io = d.io.lock();
            if d.state.lock().buf.len() > BUF_HARD_MAX {
                if let Err(Error::NoSpace(why)) = d.write_locked(&io, SyncCause::AppendSpill, false) {
                    return Err(Error::NoSpace(format!("a log that depends on this one: {why}")));
                }
            }
        }
        Ok(())
    }

    /// After a change of `st.buf`'s length, `st.taken`, `st.next` or a bounded log's region (`st` held since):
    /// keeps `buffered`, `unwritten`, and (with a dependency) `st.over` and the dependency's count of dependents
    /// past [`BUF_HARD_MAX`] or past three quarters of their region, true.
    fn note_over(&self, st: &mut State) {
        let unwritten = st.buf.len() + st.taken;
        self.buffered.store(st.buf.len(), Ordering::Release);
        self.unwritten.store(unwritten, Ordering::Release);
        // Only a log with a dependency is counted (a log without one, such as a transaction log above trees, does
        // nothing more here). `append_end` is `u64::MAX` for an unbounded log (every file log): never past it.
        if let Some(first) = self.first.get() {
            let over = unwritten > BUF_HARD_MAX || st.next > self.append_end.load(Ordering::Relaxed);
            if over != st.over {
                st.over = over;
                match over {
                    true => first.dependents_over.fetch_add(1, Ordering::AcqRel),
                    false => first.dependents_over.fetch_sub(1, Ordering::AcqRel),
                };
            }
        }
    }

    /// This log, for its errors.
    fn name(&self) -> LogName<'_> {
        LogName(self.path.as_deref())
    }

    fn check_failed(&self) -> Result<()> {
        match self.failed.get() {
            Some(why) => Err(Error::Log(format!("{} failed earlier ({why}); {FAILED}", self.name()))),
            None => Ok(()),
        }
    }

    /// [`Error::TreeOwnsLog`] for the raw call `what` if the log serves a tree (`serves_tree`).
    fn refuse_if_trees(&self, what: &str) -> Result<()> {
        if !self.serves_tree.load(Ordering::Acquire) {
            return Ok(());
        }
        Err(Error::TreeOwnsLog(format!(
            "{}: TreeWal::{what} refused: the log serves a tree, whose records and cuts are its own (a record \
             appended here would be replayed into the tree's pages at its next open; its cut is the tree's \
             checkpoint's, Tree::checkpoint); nothing was appended or cut: a layer above logs in a log of its own \
             (TreeWal::flush_first)",
            self.name()
        )))
    }

    /// Fails the log: `what` failed with `e`, and every later append and flush is refused with it.
    fn fail(&self, what: &str, e: std::io::Error) -> Error {
        let why: Arc<str> = format!("{what}: {e}").into();
        let _ = self.failed.set(why.clone());
        Error::Log(format!("{}: {why}; {FAILED}", self.name()))
    }

    /// Appends one atomic record of `ops`; returns its end LSN (to stamp on every page it changed). Not durable
    /// until [`TreeWal::flush_lsn`] or [`TreeWal::commit`]. Fails only as [`TreeWal::check`] does (the log had
    /// failed before the call, or its full buffer cannot be written for lack of space), or for a record the log
    /// could not read back ([`Error::BadRecord`]: more than 65,535 ops, a key longer than 65,535 bytes, more than
    /// [`RECORD_MAX`] bytes), and then appends nothing; a failure of the write-out an append may start is latched (or, for lack of space, leaves the
    /// records buffered) and reported by the next flush or commit.
    ///
    /// Refused ([`Error::TreeOwnsLog`], nothing appended) on a log that serves a tree: a record appended to a
    /// tree's own log is replayed into the tree's pages at its next open (R35-1 in RELIABILITY.md).
    pub fn append(&self, ops: &[Op<'_>]) -> Result<Lsn> {
        self.refuse_if_trees("append")?;
        self.append_own(ops)
    }

    /// [`TreeWal::append`] by the log's own tree (its first pages), which the public call refuses.
    pub(crate) fn append_own(&self, ops: &[Op<'_>]) -> Result<Lsn> {
        let len = check_record(ops)?;
        let _room = self.reserve(len)?;
        Ok(self.append_checked(ops))
    }

    /// [`TreeWal::append`] after the caller's own [`TreeWal::check`]: cannot fail. If the log failed in between,
    /// the record is never written and the flush the page's LSN needs fails, so the pool never writes the page.
    ///
    /// The record is encoded and sealed (its LSN and checksum) outside the `state` lock, in this thread's scratch
    /// buffer, for the LSN the log's end (`appended`) names before the lock; under the lock, taken once, it gets
    /// its LSN range and is copied into the buffer, and is sealed again there only if another append took that
    /// LSN meanwhile (module docs, "The append").
    pub(crate) fn append_checked(&self, ops: &[Op<'_>]) -> Lsn {
        let mut rec = SCRATCH.take();
        rec.clear();
        encode_record(&mut rec, ops.iter().copied());
        let guess = self.appended.load(Ordering::Acquire);
        seal(&mut rec, guess);
        let mut st = self.state.lock();
        let end = self.place_locked(&mut st, &mut rec, guess);
        self.spill_if_large(st);
        if rec.capacity() <= SCRATCH_KEEP {
            SCRATCH.set(rec);
        }
        end
    }

    /// Copies the encoded record `rec`, sealed for LSN `sealed_at`, into the buffer at the log's end (sealing it
    /// again for that LSN first if it is not `sealed_at`); returns its end. The only place a sealed record enters
    /// the buffer, so records enter it in LSN order, whole.
    fn place_locked(&self, st: &mut State, rec: &mut [u8], sealed_at: Lsn) -> Lsn {
        let lsn = st.next;
        if lsn != sealed_at {
            seal(rec, lsn);
        }
        st.buf.extend_from_slice(rec);
        self.appended_locked(st, lsn + rec.len() as u64)
    }

    /// Appends a change to one leaf, as `op` or, if the page was last logged at or before the checkpoint redo
    /// point (`page_lsn`), as the full `image` (full-page write). The choice is made under the log lock, so it
    /// cannot race with a checkpoint moving the redo point.
    /// Fails as [`TreeWal::append`] does (refused on a log that serves a tree, which appends its leaves' records
    /// without this call).
    pub fn append_leaf(&self, page_lsn: Lsn, page: PageNo, image: &[u8], op: Op<'_>) -> Result<Lsn> {
        self.refuse_if_trees("append_leaf")?;
        let len = check_record(&[Op::Image { page, bytes: image }])?.max(check_record(&[op])?);
        let _room = self.reserve(len)?;
        Ok(self.append_leaf_checked(page_lsn, page, image, op))
    }

    /// [`TreeWal::append_leaf`] after the caller's own [`TreeWal::check`]: cannot fail (see
    /// [`TreeWal::append_checked`]).
    pub(crate) fn append_leaf_checked(&self, page_lsn: Lsn, page: PageNo, image: &[u8], op: Op<'_>) -> Lsn {
        self.append_change_checked(&[(Op::Image { page, bytes: image }, Some((page_lsn, op)))])
    }

    /// Appends one atomic record of a change to several pages: per page its full image, or, if given and the page
    /// was last logged after the checkpoint redo point (its LSN before the change), the cheaper op (full-page
    /// writes). The choice is made under the log lock, so it cannot race with a checkpoint moving the redo point.
    /// After the caller's own [`TreeWal::check`]: cannot fail (see [`TreeWal::append_checked`]).
    pub(crate) fn append_change_checked(&self, ops: &[(Op<'_>, Option<(Lsn, Op<'_>)>)]) -> Lsn {
        let mut st = self.state.lock();
        let redo = self.redo_lsn.load(Ordering::Relaxed);
        // Without full-page writes an op is logged over any page logged before (the area keeps it whole).
        let floor = if self.page_images.load(Ordering::Relaxed) {
            redo
        } else {
            0
        };
        let chosen = ops.iter().map(|&(image, alt)| match alt {
            Some((page_lsn, op)) if page_lsn > floor => op,
            _ => image,
        });
        let lsn = self.encode_locked(&mut st, chosen);
        self.spill_if_large(st);
        lsn
    }

    /// The log record for a change to one leaf that is *covered* by the log this log depends on
    /// ([`TreeWal::flush_first`]), whose record of it the caller appended before the change: nothing, unless the
    /// page was last logged at or before the checkpoint redo point (`page_lsn`), then the full `image` (full-page
    /// write, so a page torn by a crash can still be rebuilt). Returns the LSN to stamp, if a record was
    /// appended. The caller holds the leaf's exclusive latch, made its change under it, and checked
    /// [`TreeWal::check_covered`] (so it cannot fail).
    ///
    /// The common case (no image) takes no lock and writes nothing shared (it used to take `state` only to read
    /// `redo_lsn`: about 10 times a TPC-C transaction, the line written by both workers at 2 threads). What the lock ordered, a fence on each side now does: see "The redo point against a covered
    /// change" in the module docs.
    #[inline]
    pub(crate) fn cover_leaf_checked(&self, page_lsn: Lsn, page: PageNo, image: &[u8]) -> Option<Lsn> {
        // Without full-page writes nothing is logged for a leaf logged before; no race with the redo point to
        // order. (A leaf never logged still takes an image: the pool's WAL-rule flush, which waits for the log
        // above, is asked only for pages with an LSN.)
        if page_lsn > 0 && !self.page_images.load(Ordering::Relaxed) {
            return None;
        }
        // ORDERING: (F_w) after the leaf's exclusive latch (an RMW of its frame's state word) and its dirty flag,
        // before the redo point is read; pairs with `begin_checkpoint`'s (F_c). Either F_c precedes F_w in the
        // single order of SeqCst fences, and this load sees the new redo point (an image is logged), or F_w
        // precedes F_c, and the checkpoint's dirty-page scan sees this leaf latched or dirty (it writes it after
        // the change). Never neither.
        fence(Ordering::SeqCst);
        if page_lsn > self.redo_lsn.load(Ordering::Relaxed) {
            return None;
        }
        // An image is always safe to log (the redo point only grows: it is still at or past `page_lsn`).
        let mut st = self.state.lock();
        let lsn = self.encode_locked(&mut st, [Op::Image { page, bytes: image }].into_iter());
        self.spill_if_large(st);
        Some(lsn)
    }

    /// Full-page writes on or off for the tree that claimed this log (the field `page_images`).
    pub(crate) fn set_page_images(&self, on: bool) {
        self.page_images.store(on, Ordering::Relaxed);
    }

    /// Whether this log depends on another ([`TreeWal::flush_first`]): its tree may then hold covered changes
    /// that no record of this log describes.
    pub(crate) fn has_dependency(&self) -> bool {
        self.first.get().is_some()
    }

    /// Notes that page `no` of this log's tree, exclusively latched by the caller, has just taken a change that
    /// may leave covered changes on it (a covered put or delete, or a structure change that moved entries into
    /// it): the pool may write it only once the dependency is durable to its end as of now, which is at or past
    /// the record of every covered change the page holds (each appended before its change). Nothing without a
    /// dependency.
    #[inline]
    pub(crate) fn note_covered(&self, no: PageNo) {
        if let Some(first) = self.first.get() {
            self.deps.note(no, first.end_lsn());
        }
    }

    /// Starts loading the line of page `no`'s note ([`TreeWal::note_covered`]) into the CPU's caches, for a
    /// caller about to latch the page for a covered change (a hint; nothing without a dependency).
    #[inline]
    pub(crate) fn prefetch_note(&self, no: PageNo) {
        if self.first.get().is_some() {
            self.deps.prefetch(no);
        }
    }

    /// `Err` unless covered changes may be made to this log's tree: the log has not failed and depends on another
    /// log ([`TreeWal::flush_first`]), which the pool's WAL-rule flushes of this log make durable first.
    pub fn check_covered(&self) -> Result<()> {
        self.check_failed()?;
        match self.first.get() {
            Some(_) => Ok(()),
            None => Err(Error::Log(format!(
                "{}: a covered change needs a log this log depends on: set one with TreeWal::flush_first before \
                the tree is used",
                self.name()
            ))),
        }
    }

    /// Encodes and seals a record of `ops` straight into the buffer, under the lock: for the appends whose ops
    /// are chosen under it (by the redo point: full-page writes).
    fn encode_locked<'o>(&self, st: &mut State, ops: impl ExactSizeIterator<Item = Op<'o>>) -> Lsn {
        let start = st.buf.len();
        let lsn = st.next;
        encode_record(&mut st.buf, ops);
        let len = st.buf.len() - start;
        seal(&mut st.buf[start..], lsn);
        self.appended_locked(st, lsn + len as u64)
    }

    /// After a record ending at `end` entered the buffer (`st` held since): the log's end moves there.
    fn appended_locked(&self, st: &mut State, end: Lsn) -> Lsn {
        st.next = end;
        self.appended.store(end, Ordering::Release);
        // The record's pages are latched by the caller and hold only covered changes whose records the
        // dependency appended before them, so before now: its end now covers them.
        if let Some(first) = self.first.get() {
            st.buf_dep = st.buf_dep.max(first.end_lsn());
        }
        self.note_over(st);
        end
    }

    /// After an append (`st` held since it): a buffer past [`BUF_SOFT_MAX`] is written out (no fsync of this log)
    /// by the appender if the file is free and the write costs no fsync of the dependency (it is durable as far as
    /// the buffer needs: `buf_dep`); past [`BUF_HARD_MAX`] whatever it costs, waiting for the file. Otherwise the
    /// buffer waits for [`TreeWal::write_out`]: an appender may hold page latches and its caller's locks (a
    /// transaction's), and an fsync there stalls everyone behind them. A failure is latched in `failed` (by
    /// `write_locked`) and reported by the next flush; a write refused for space leaves the records buffered
    /// for the next write-out (and past [`BUF_HARD_MAX`], [`TreeWal::check`] refuses appends).
    fn spill_if_large(&self, st: parking_lot::MutexGuard<'_, State>) {
        let (len, dep) = (st.buf.len(), st.buf_dep);
        drop(st);
        if len > BUF_HARD_MAX {
            let io = self.io.lock();
            let _ = self.write_locked(&io, SyncCause::AppendSpill, false);
        } else if len > BUF_SOFT_MAX && self.first.get().is_none_or(|f| f.durable_lsn() >= dep) {
            if let Some(io) = self.io.try_lock() {
                let _ = self.write_locked(&io, SyncCause::AppendSpill, false);
            }
        }
    }

    /// Writes the buffered records out (no fsync of this log) if there are more than [`BUF_SOFT_MAX`] bytes of
    /// them, making the dependency durable first as far as they need: for a background thread (TPC-C's driver
    /// tick), so that appenders of a log whose dependency is not durable far enough never fsync it on their path
    /// (they leave the buffer to this call, up to [`BUF_HARD_MAX`]). Returns whether it wrote.
    pub fn write_out(&self) -> Result<bool> {
        if self.buffered.load(Ordering::Acquire) <= BUF_SOFT_MAX {
            return Ok(false);
        }
        let io = self.io.lock();
        self.write_locked(&io, SyncCause::WriteOut, false)?;
        Ok(true)
    }

    /// Writes the buffered records to the file, in order (the caller holds `io`); with `sync`, fsyncs and
    /// advances the durable LSN. `cause` is the fsync's (this log's and the dependency's, [`SyncCause`]).
    /// Returns the end of what was written. A write the device refuses for space (or the dependency's flush
    /// refused so) puts the records back in front of the buffer and returns [`Error::NoSpace`], the log not
    /// failed; any other failure fails the log.
    fn write_locked(&self, io: &LogFile, cause: SyncCause, sync: bool) -> Result<Lsn> {
        self.check_failed()?;
        let (buf, start, dep) = {
            let mut st = self.state.lock();
            let start = st.buf_start;
            st.buf_start = st.next;
            let spare = std::mem::take(&mut st.spare);
            let taken = (
                std::mem::replace(&mut st.buf, spare),
                start,
                std::mem::take(&mut st.buf_dep),
            );
            // Still unwritten: the check's bound counts them until they are written (or back in the buffer).
            st.taken = taken.0.len();
            self.note_over(&mut st);
            taken
        };
        let end = start + buf.len() as u64;
        // A bounded log's region is full: refused for space, as a full device refuses (module docs, "A bounded
        // log on a storage"); a checkpoint's cut frees it.
        if end > io.region_end_lsn() {
            self.put_back(buf, start, dep);
            return Err(Error::NoSpace(format!(
                "{}: its region of {} bytes is full: a checkpoint's cut frees it",
                self.name(),
                io.region_len
            )));
        }
        // The dependency is made durable first as far as these records need (`buf_dep`: its end when each was
        // appended, at or past every covered change their images hold). A failure fails this log too: the taken
        // bytes must never be written.
        if let Some(first) = self.first.get().filter(|_| !buf.is_empty()) {
            match first.flush_lsn_for(dep, cause) {
                Ok(()) => {}
                Err(Error::NoSpace(why)) => {
                    self.put_back(buf, start, dep);
                    return Err(Error::NoSpace(format!("{}: the log it depends on: {why}", self.name())));
                }
                Err(e) => {
                    self.release_taken(buf);
                    return Err(self.fail("flush the log it depends on", io::Error::other(e.to_string())));
                }
            }
        }
        // Records before `io`'s origin are not written: only a bounded log's switch writes to a region whose origin
        // (its redo point) is past the buffer's start, and those records are dead (R25-1). Refused, they go back
        // with the rest, so the region in force never misses them.
        let skip = io.origin.saturating_sub(start).min(buf.len() as u64) as usize;
        if skip < buf.len() {
            if let Err(e) = io.dev.write_all_at(&buf[skip..], io.offset(start + skip as u64)) {
                if !is_no_space(&e) {
                    self.release_taken(buf);
                    return Err(self.fail("write", e));
                }
                self.put_back(buf, start, dep);
                return Err(Error::NoSpace(format!("{}: write: {e}", self.name())));
            }
        }
        self.release_taken(buf);
        if sync {
            self.grow(io, io.offset(end)).map_err(|e| self.fail("write zeros", e))?;
            io.dev.sync().map_err(|e| self.fail("fsync", e))?;
            // Synced where no name leads (the file deleted or renamed over while open): the records would be
            // acknowledged and lost with the file, as R10-4's were through a handle the log's own rewrite left.
            match io.dev.unlinked() {
                Ok(false) => {}
                Ok(true) => return Err(self.fail("fsync", io::Error::other(UNLINKED))),
                Err(e) => return Err(self.fail("fstat", e)),
            }
            self.syncs[cause as usize].fetch_add(1, Ordering::Relaxed);
            self.durable.fetch_max(end, Ordering::AcqRel);
        }
        Ok(end)
    }

    /// In a write-out that fsyncs, after its records, which end at byte `end` of a file (the caller holds `io`):
    /// if fewer than [`GROW_STEP`]` / 2` bytes of zeros lie past `end`, writes zeros from there (never over a
    /// record) to the next multiple of the step a step past `end`, for the write-out's fsync to make durable with
    /// the length (module docs, "A file's zeroed tail"). Refused for space, nothing more is tried: later records
    /// extend the file themselves, as every append did before R31-1. Any other failure is returned. Nothing for
    /// a storage.
    fn grow(&self, io: &LogFile, end: u64) -> io::Result<()> {
        let zeroed = io.zeroed.get();
        if end.saturating_add(GROW_STEP / 2) <= zeroed {
            return Ok(());
        }
        let to = zeroed_end(end);
        match zero_dev(&io.dev, zeroed.max(end), to, ZERO_CHUNK) {
            Ok(()) => {
                self.grows.fetch_add(1, Ordering::Relaxed);
                io.zeroed.set(to);
                Ok(())
            }
            Err(e) if is_no_space(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The write-out's taken records `buf` are written (or dropped with the log's failure): they no longer count
    /// against the bound, and their allocation is kept for the next appends: as the buffer if no append came
    /// meanwhile and it is the larger, else as the spare if it is larger than that. One take of `state`.
    fn release_taken(&self, mut buf: Vec<u8>) {
        buf.clear();
        let mut st = self.state.lock();
        st.taken = 0;
        self.note_over(&mut st);
        if st.buf.is_empty() && st.buf.capacity() < buf.capacity() {
            std::mem::swap(&mut st.buf, &mut buf);
        }
        if st.spare.capacity() < buf.capacity() {
            st.spare = buf;
        }
    }

    /// After a write-out refused for space (the caller still holds `io`, so no other write-out ran): the taken
    /// records `buf`, from `start`, go back in front of those appended since, and the next write-out writes them
    /// again from `start`'s offset, over whatever prefix of them landed (module docs, "A full device").
    fn put_back(&self, mut buf: Vec<u8>, start: Lsn, dep: Lsn) {
        let mut st = self.state.lock();
        // Appends since the take went on from the taken records' end: the two are one run of the log again.
        assert_eq!(st.buf_start, start + buf.len() as u64, "records appended out of order");
        buf.extend_from_slice(&st.buf);
        let mut newer = std::mem::replace(&mut st.buf, buf);
        st.buf_start = start;
        st.buf_dep = st.buf_dep.max(dep);
        st.taken = 0;
        self.note_over(&mut st);
        if st.spare.capacity() < newer.capacity() {
            newer.clear();
            st.spare = newer;
        }
    }

    /// Makes every record up to `lsn` durable. Concurrent callers share one fsync (group commit): whoever gets
    /// the file writes and syncs everything appended so far, and the others find their LSN already durable.
    pub fn flush_lsn(&self, lsn: Lsn) -> Result<()> {
        self.flush_lsn_for(lsn, SyncCause::Commit)
    }

    /// [`TreeWal::flush_lsn`] on behalf of `cause`.
    fn flush_lsn_for(&self, lsn: Lsn, cause: SyncCause) -> Result<()> {
        // A failed log refuses even LSNs it made durable before: after a failure, pages may hold changes whose
        // records never reached the log, and the pool must not write them.
        self.check_failed()?;
        if self.durable.load(Ordering::Acquire) >= lsn {
            return Ok(());
        }
        let io = self.io.lock();
        if self.durable.load(Ordering::Acquire) >= lsn {
            return Ok(());
        }
        let end = self.write_locked(&io, cause, true)?;
        if end < lsn {
            return Err(Error::Log(format!(
                "{}: asked to flush to LSN {lsn} beyond its end ({end}): an LSN this log never gave (a page's LSN \
                from another log?); nothing was changed",
                self.name()
            )));
        }
        Ok(())
    }

    /// Makes every record appended so far durable.
    pub fn commit(&self) -> Result<()> {
        self.commit_for(SyncCause::Commit)
    }

    /// [`TreeWal::commit`] on behalf of `cause`.
    fn commit_for(&self, cause: SyncCause) -> Result<()> {
        self.flush_lsn_for(self.appended.load(Ordering::Acquire), cause)
    }

    /// End of the appended log: the next record starts here. Only grows; after an append returned, that
    /// thread reads at least the record's end.
    pub fn end_lsn(&self) -> Lsn {
        self.appended.load(Ordering::Acquire)
    }

    /// Everything before this LSN is durable.
    pub fn durable_lsn(&self) -> Lsn {
        self.durable.load(Ordering::Acquire)
    }

    /// Starts a checkpoint: the current end becomes the redo point, and leaves changed from now on are logged as
    /// full images on their first change. Returns the redo point.
    ///
    /// The caller must then find the dirty pages (the pool's `flush_files`, as [`crate::Tree::checkpoint`] does)
    /// after this returns: a covered change that read the previous redo point and logged no image is seen by
    /// that scan ("The redo point against a covered change" in the module docs).
    pub fn begin_checkpoint(&self) -> Lsn {
        let st = self.state.lock();
        let redo = st.next;
        self.redo_lsn.store(redo, Ordering::Relaxed);
        drop(st);
        // ORDERING: (F_c) after the redo point's store, before the caller's dirty-page scan reads the frames'
        // state words and dirty flags; pairs with `cover_leaf_checked`'s (F_w).
        fence(Ordering::SeqCst);
        redo
    }

    /// Finishes a checkpoint whose pages are all on disk: the log keeps only records from `redo` on. In a file,
    /// by a new header slot whose `start` is `redo` and a punched hole over the dead records, or (rarely, or where
    /// the file system cannot punch) by a rewrite of the kept tail into a new file; on a storage, by the header
    /// slot alone, or for a bounded log by a switch of region when the one in force is half full (see the module
    /// docs, "Truncation" and "A bounded log on a storage"). Everything appended before the call is durable after
    /// it.
    ///
    /// Refused ([`Error::TreeOwnsLog`], nothing cut) on a log that serves a tree: the tree's checkpoint
    /// ([`crate::Tree::checkpoint`]) cuts it, after noting in its meta page where the log must start; a cut
    /// without that note made the tree's next open fail with [`Error::LogMismatch`] (R35-1 in RELIABILITY.md).
    ///
    /// `redo` must be an LSN this log gave: the end of a record ([`TreeWal::append`]'s result, so where the next
    /// one starts), [`TreeWal::end_lsn`], [`TreeWal::begin_checkpoint`]'s; at or before the log's start the call
    /// cuts nothing. Any other is refused ([`Error::Log`], nothing cut): past the end or inside a record, the log
    /// would start where no record does, and every record after it would be lost (R40-20 in RELIABILITY.md).
    pub fn truncate_before(&self, redo: Lsn) -> Result<()> {
        self.refuse_if_trees("truncate_before")?;
        self.check_cut_point(redo)?;
        self.cut_before(redo)
    }

    /// `Ok` if a cut before `redo` keeps a log that starts where a record does: `redo` at or before the log's
    /// start, at its end, or where one of its records starts (read back from the buffer or the device). Cuts and
    /// write-outs are held off while it looks (`trunc`, `io`); what it finds stays true after, as records never
    /// move to other LSNs and a cut only moves the start forward.
    fn check_cut_point(&self, redo: Lsn) -> Result<()> {
        let _tr = self.trunc.lock();
        let io = self.io.lock();
        let st = self.state.lock();
        if redo <= io.start || redo == st.next {
            return Ok(());
        }
        let refused = |why: String| {
            Err(Error::Log(format!(
                "{}: asked to cut the log before LSN {redo}, {why}: an LSN this log never gave; nothing was cut",
                self.name()
            )))
        };
        if redo > st.next {
            return refused(format!("beyond its end ({})", st.next));
        }
        // A record of this log starts at `redo` if one reads back there whole, naming `redo` (its header's LSN)
        // and passing its CRC: from the buffer (whole records from `buf_start`; no write-out runs, it would hold
        // `io`) or from the device.
        let starts_a_record = if redo >= st.buf_start {
            let mut r = st.buf.get((redo - st.buf_start) as usize..).unwrap_or_default();
            read_record(&mut r, self.name(), redo, &mut Vec::new())?.is_some()
        } else {
            drop(st);
            let mut r = DeviceReader {
                dev: &io.dev,
                pos: io.offset(redo),
                limit: io.region_end(),
                past_cache: false,
            };
            read_record(&mut r, self.name(), redo, &mut Vec::new())?.is_some()
        };
        match starts_a_record {
            true => Ok(()),
            false => refused(format!(
                "where no record of it starts (its records run from {})",
                io.start
            )),
        }
    }

    /// [`TreeWal::truncate_before`] by the log's own tree (its checkpoint), which the public call refuses.
    pub(crate) fn cut_before(&self, redo: Lsn) -> Result<()> {
        let mut tr = self.trunc.lock();
        let mut io = self.io.lock();
        // A failed log writes nothing more, a cut's copies and zeroes included: a switch that failed after writing
        // its header slot left that slot readable (its fsync failed), naming the region this log's memory still
        // takes for the one not in force; the next switch's copy and zeroing, which run before its other checks,
        // wrote over the records that slot names, and a restart read none of them (L42-2 in RELIABILITY.md).
        self.check_failed()?;
        if redo <= io.start {
            self.write_locked(&io, SyncCause::Checkpoint, true)?;
            return Ok(());
        }
        let seq = io.seq + 1;
        let file = match (&io.dev, &self.path) {
            (Device::File(f), Some(path)) => Some((f.clone(), path.clone())),
            _ => None,
        };
        let Some((file, path)) = file else {
            if io.region_len > 0 {
                // A bounded log switches region when the one in force is half full (or cannot take the buffered
                // records) and the kept tail fits in the other: module docs, "A bounded log on a storage".
                let next = self.state.lock().next;
                let (used, tail) = (next - io.origin, next - redo);
                if tail <= io.region_len && (used >= io.region_len / 2 || next > io.region_end_lsn()) {
                    drop(io);
                    return self.switch_region(&mut tr, redo, seq);
                }
            }
            return self.cut_by_header(&mut io, redo, seq);
        };
        // What the file holds now ends at `written`, the buffer's records after it; `redo` is at or before the
        // buffer's end (it was the end of the appended log when the checkpoint began).
        let written = self.state.lock().buf_start;
        let tail = written.saturating_sub(redo);
        let length = io.offset(written.max(redo));
        if tr.no_punch || length >= tr.rewrite_len.max(REWRITE_TAIL_FACTOR * tail) {
            drop(io);
            return self.rewrite(&mut tr, &file, &path, redo, seq);
        }
        self.cut_by_header(&mut io, redo, seq)?;
        // The header naming `redo` is durable: every byte before `redo`'s offset is dead now, whatever the
        // header slots hold after a crash (the older slot's `start` is never read while this one is valid, and
        // this one is durable). The punch runs without `io`, which committers need; `trunc` keeps it alone.
        let to = io.offset(redo) / PUNCH_ALIGN * PUNCH_ALIGN;
        drop(io);
        let from = tr.punched.max(LOG_HDR.next_multiple_of(PUNCH_ALIGN));
        if to > from {
            match punch_hole(&file, from, to - from) {
                Ok(()) => tr.punched = to,
                Err(e) if e == rustix::io::Errno::OPNOTSUPP || e == rustix::io::Errno::NOSYS => {
                    // Nothing was freed; the header slot stands. Later truncations rewrite instead.
                    tr.no_punch = true;
                }
                // The cut is durable and the bytes were dead: a failed punch (EIO; ENOSPC, where splitting an extent
                // needs a block) only keeps their space. Reported, the log kept; the next cut punches them again.
                Err(e) => return Err(cut_err(self.name(), "punch dead records", io::Error::from(e))),
            }
        }
        Ok(())
    }

    /// The header-slot cut (the caller holds `trunc` and `io`): writes the buffered records and fsyncs them, then
    /// writes the slot not in force (`io.slot`) with `start = redo` and fsyncs again. Before the second fsync
    /// either slot may be the one a crash leaves in force, and both name a valid log: records from the old start
    /// on (none cut yet), or from `redo` on (the records before it are dead: the checkpoint wrote their pages).
    /// The records first, durable: they hold the checkpoint's notes (`Tree::note_cut`), the only record left of
    /// what the cut drops; with one fsync for both, a crash could keep the new slot and lose the notes after it,
    /// and a write of the checkpoint the device dropped was then read back as valid (R23-1 in RELIABILITY.md).
    fn cut_by_header(&self, io: &mut LogFile, redo: Lsn, seq: u64) -> Result<()> {
        self.write_locked(io, SyncCause::Checkpoint, true)?;
        let hdr = io.header(self.id, redo, seq);
        let at = io.layout.other_slot(io.slot);
        let old = read_slot(&io.dev, at).map_err(|e| cut_err(self.name(), "read header", e))?;
        // Refused for space, the slot not in force holds its old bytes or a torn write of the new ones: a slot
        // that is valid names a valid log either way (below), so the cut is reported and the log goes on. Any
        // failure until the slot is synced puts its old bytes back (`restore_slot`, R43-1): a slot read and not
        // on the device must not be left for an open in the same process to take for the one in force. (A
        // failure after the fsync, the file found unlinked, restores bytes no name leads to any more.)
        io.dev.write_all_at(&hdr.encode(), at).map_err(|e| {
            restore_slot(&io.dev, at, &old);
            match is_no_space(&e) {
                true => Error::NoSpace(format!("{}: write header: {e}", self.name())),
                false => self.fail("write header", e),
            }
        })?;
        self.write_locked(io, SyncCause::Checkpoint, true)
            .inspect_err(|_| restore_slot(&io.dev, at, &old))?;
        io.start = redo;
        io.seq = seq;
        io.slot = at;
        self.start.store(redo, Ordering::Release);
        Ok(())
    }

    /// The switch cut of a bounded log (the caller holds `trunc`, not `io`; module docs, "A bounded log on a
    /// storage"): copies the records from `redo` on into the region not in force, from its start, writes the
    /// buffered records after them there (never in the region in force), syncs, then writes the header slot
    /// not in force naming that region with `origin = start = redo`, and syncs again. The bulk of the copy runs
    /// without `io` (the records written in the region in force never change); what was written there meanwhile
    /// is copied under `io`, with the buffer. Until the header is durable the slot in force names the old
    /// region, untouched and whole; after, the new one, whole and synced. `durable` moves only then: a commit
    /// that found its records durable before the header could lose them to a crash that kept the old slot.
    ///
    /// Failures: a failed copy write (before the buffer is taken) touched only the region not in force: the cut is
    /// returned ([`Error::NoSpace`] if refused for space) and the log goes on, the region marked stale. A failed
    /// read of the log, a failed write of the buffered records (not for space), or any failure from then on (the
    /// records are only in the new region) fails the log.
    fn switch_region(&self, tr: &mut Trunc, redo: Lsn, seq: u64) -> Result<()> {
        let (dev, from, to, copied) = {
            let io = self.io.lock();
            let to = LogFile {
                zeroed: Cell::new(u64::MAX),
                dev: io.dev.clone(),
                origin: redo,
                start: redo,
                seq,
                slot: io.layout.other_slot(io.slot),
                base: io
                    .layout
                    .region_base(u64::from(io.base == io.layout.hdr()), io.region_len),
                region_len: io.region_len,
                data: io.data,
                layout: io.layout,
            };
            let from = (io.base, io.origin);
            // Under `trunc`: no switch can fail from here until this one writes (L42-2: `cut_before`).
            self.check_failed()?;
            // What the region in force holds from `redo` on: nothing if the records before `redo` are not all
            // written yet (a cut at a redo point past the written records, R25-1).
            (io.dev.clone(), from, to, self.state.lock().buf_start.max(redo))
        };
        let from_at = |lsn: Lsn| from.0 + (lsn - from.1);
        let target = usize::from(to.base != to.layout.hdr());
        // Written to from now on: stale until the switch is durable.
        let zero_past = tr.stale[target];
        tr.stale[target] = true;
        let mut chunk = vec![0u8; COPY_CHUNK];
        let copy_failed = |e: CopyError| match e {
            CopyError::Read(e) => self.fail("read it to switch its region", e),
            CopyError::Write(e) => cut_err(self.name(), "write the other region", e),
        };
        copy_dev(&dev, from_at(redo), to.offset(redo), copied - redo, &mut chunk).map_err(copy_failed)?;
        if zero_past {
            // Records a crash or a failed switch left there may have this switch's origin: past what the switch
            // writes, nothing of them may stay (module docs, "A bounded log on a storage").
            let (at, end) = (to.offset(copied), to.region_end().min(dev.len().unwrap_or(u64::MAX)));
            zero_dev(&dev, at, end, 64 << 10).map_err(|e| cut_err(self.name(), "zero the other region", e))?;
        }
        let mut io = self.io.lock();
        self.check_failed()?;
        let (written, next) = {
            let st = self.state.lock();
            (st.buf_start, st.next)
        };
        if next - redo > io.region_len {
            // The tail outgrew a region while it was copied: a header-slot cut instead.
            return self.cut_by_header(&mut io, redo, seq);
        }
        let more = written.saturating_sub(copied);
        copy_dev(&dev, from_at(copied), to.offset(copied), more, &mut chunk).map_err(copy_failed)?;
        // The buffered records go to the new region only (`to`; those before `redo`, dead, not at all), and
        // `durable` does not move (no sync here).
        let end = self.write_locked(&to, SyncCause::Checkpoint, false)?;
        let hdr = to.header(self.id, redo, seq);
        io.dev
            .sync()
            .and_then(|()| read_slot(&io.dev, to.slot))
            .and_then(|old| {
                // A failed write or fsync of the slot puts its old bytes back (`restore_slot`): left readable
                // and not durable, it was the slot in force to an open in the same process (L42-1, R43-1).
                io.dev
                    .write_all_at(&hdr.encode(), to.slot)
                    .and_then(|()| io.dev.sync())
                    .inspect_err(|_| restore_slot(&io.dev, to.slot, &old))
            })
            .map_err(|e| self.fail("switch its region", e))?;
        self.syncs[SyncCause::Checkpoint as usize].fetch_add(1, Ordering::Relaxed);
        *io = to;
        self.start.store(redo, Ordering::Release);
        self.append_end
            .store(append_end(redo, io.region_len), Ordering::Release);
        // Past three quarters of the old region, maybe not of the new one: the log above takes appends again.
        self.note_over(&mut self.state.lock());
        self.durable.fetch_max(end, Ordering::AcqRel);
        // The region left holds records of origins below any later redo point: not stale (module docs).
        tr.stale = [false; 2];
        tr.switches += 1;
        Ok(())
    }

    /// The rewrite cut (the caller holds `trunc`, not `io`): copies the records from `redo` on into
    /// `<name>.tmp` under a header with `origin = start = redo`, fsyncs it and renames it over the log. The bulk
    /// of the copy runs without `io` (records in the file never change, and appends go on into the old file and
    /// the buffer); only the bytes written to the old file meanwhile are copied under `io`, just before the
    /// switch. A crash before the rename leaves the old log; after it, the new one, whole and synced. A failed
    /// directory fsync after the rename fails the log (which file a crash leaves under the name is unknown).
    fn rewrite(&self, tr: &mut Trunc, old: &File, path: &Path, redo: Lsn, seq: u64) -> Result<()> {
        let (origin, base, copied, data) = {
            let io = self.io.lock();
            self.write_locked(&io, SyncCause::Checkpoint, false)?;
            (io.origin, io.base, self.state.lock().buf_start, io.data)
        };
        let tmp = bufpool::storage::temp_path(path);
        // Until the rename, a failure to make or write the new file (a full file system, most likely) leaves the
        // log as it was, in force and whole: it is returned without failing the log, and the new file removed
        // (R10-5 in RELIABILITY.md: it failed the log, refusing every commit, and left the file taking the space
        // that was missing). A failure to read the log, or to write it (`write_locked`), fails it as always.
        let dropped = |what: &str, e: io::Error| {
            let _ = std::fs::remove_file(&tmp);
            cut_err(self.name(), what, e)
        };
        let copy_failed = |e: CopyError| match e {
            CopyError::Read(e) => self.fail("read it to rewrite it", e),
            CopyError::Write(e) => dropped("write its rewritten copy", e),
        };
        // Made anew, never through what was under the name (R29-2 in RELIABILITY.md), with the log's permissions
        // (R30-3).
        let new = old
            .metadata()
            .and_then(|m| bufpool::storage::create_anew(&tmp, Some(&m)))
            .map_err(|e| dropped("create its rewritten copy", e))?;
        // Locked before the rename makes it the log, as `open` locks the log (R13-1).
        new.try_lock()
            .map_err(|e| dropped("lock its rewritten copy", io::Error::from(e)))?;
        let hdr = Header {
            id: self.id,
            origin: redo,
            start: redo,
            seq,
            base: LOG_HDR,
            region_len: 0,
            data,
            format: LOG_FORMAT,
            layout: Layout::Blocks,
        };
        // The old file's layout may be the sector layout (an open moving it: `open_device`).
        let old_at = |lsn: Lsn| base + (lsn - origin);
        let new_at = |lsn: Lsn| LOG_HDR + (lsn - redo);
        let mut chunk = vec![0u8; COPY_CHUNK];
        // The new file's zeroed tail, written with the copy and fsynced with it (module docs, "A file's zeroed
        // tail"): the records written there after the switch change no metadata.
        let zeroed = zeroed_end(new_at(copied));
        new.write_all_at(&hdr.region(), 0)
            .map_err(CopyError::Write)
            .and_then(|()| copy_range(old, &new, old_at(redo), new_at(redo), copied - redo, &mut chunk))
            .map_err(copy_failed)?;
        let new = Arc::new(new);
        // Refused for space, the new file has no zeroed tail (or part of one): its first write-out grows it.
        let zeroed = match zero_dev(&Device::File(new.clone()), new_at(copied), zeroed, ZERO_CHUNK) {
            Ok(()) => zeroed,
            Err(e) if is_no_space(&e) => 0,
            Err(e) => return Err(dropped("write its rewritten copy", e)),
        };
        let mut io = self.io.lock();
        self.write_locked(&io, SyncCause::Checkpoint, false)
            .inspect_err(|_| drop(std::fs::remove_file(&tmp)))?;
        let written = self.state.lock().buf_start;
        copy_range(old, &new, old_at(copied), new_at(copied), written - copied, &mut chunk)
            .and_then(|()| new.sync_all().map_err(CopyError::Write))
            .map_err(copy_failed)?;
        std::fs::rename(&tmp, path).map_err(|e| self.fail("rename its rewritten copy into place", e))?;
        // From the rename on, the name leads to the new file, and `io`'s handle to an unlinked one: records
        // written there would be fsynced where no reopen finds them. Until the directory fsync returns, a crash
        // may leave either file under the name (both hold every record written so far); if it fails, no later
        // record can be made durable under the name for sure, so the log fails and refuses every commit, instead
        // of going on through the old handle (R10-4 in RELIABILITY.md: commits acknowledged, then lost).
        bufpool::storage::sync_parent_dir(path).map_err(|e| self.fail("fsync its directory", e))?;
        self.syncs[SyncCause::Checkpoint as usize].fetch_add(1, Ordering::Relaxed);
        self.durable.fetch_max(written, Ordering::AcqRel);
        *io = LogFile {
            zeroed: Cell::new(zeroed.max(new_at(written))),
            dev: Device::File(new),
            origin: redo,
            start: redo,
            seq,
            slot: 0,
            base: LOG_HDR,
            region_len: 0,
            data,
            layout: Layout::Blocks,
        };
        self.start.store(redo, Ordering::Release);
        tr.punched = 0;
        tr.rewrites += 1;
        Ok(())
    }

    /// Sets the logical file length from which a truncation rewrites the log instead of punching (default
    /// [`REWRITE_LEN`]; see the module docs, "Truncation"). With 0, a truncation rewrites whenever the file is at
    /// least `REWRITE_TAIL_FACTOR` (8) times the tail it keeps.
    pub fn set_rewrite_len(&self, bytes: u64) {
        self.trunc.lock().rewrite_len = bytes;
    }

    /// How many truncations so far rewrote the log file (the others punched, or wrote a header slot).
    pub fn rewrites(&self) -> u64 {
        self.trunc.lock().rewrites
    }

    /// How many truncations so far switched a bounded log's region ([`TreeWal::open_storage_with_capacity`]).
    pub fn switches(&self) -> u64 {
        self.trunc.lock().switches
    }

    /// A bounded log's region length in bytes; 0 for an unbounded log.
    pub(crate) fn region_len(&self) -> u64 {
        self.io.lock().region_len
    }

    /// A bounded log's capacity in bytes, its header included ([`TreeWal::open_storage_with_capacity`]); `None`
    /// for an unbounded log.
    pub fn capacity(&self) -> Option<u64> {
        let io = self.io.lock();
        match io.region_len {
            0 => None,
            len => Some(io.layout.hdr() + 2 * len),
        }
    }

    /// Makes this log depend on `first`: from now on, before this log writes any of its records to its file (a
    /// commit, a WAL-rule flush for the pool, a spill of a full buffer), it makes `first` durable up to `first`'s
    /// end as of that record's append. A record appended to `first` before a record of this log is therefore
    /// durable before that record is, and so before any page whose LSN covers it; pages holding covered changes
    /// wait for `first` as far as [`bufpool::Wal::flush_for_pages`] finds them noted. Set once, before the log
    /// is used. Refused ([`Error::Log`], nothing changed) if a dependency is already set, or if `first` is this log
    /// or depends on it, directly or not (a cycle: R21-1 in RELIABILITY.md).
    ///
    /// `first` then also bounds this log's buffer while the device is full: an append to `first` is refused
    /// ([`Error::NoSpace`]) while this log holds more than [`BUF_HARD_MAX`] bytes it cannot write out
    /// ([`TreeWal::check`]), or, bounded, is past three quarters of its region (R25-4 in RELIABILITY.md).
    pub fn flush_first(self: &Arc<Self>, first: Arc<TreeWal>) -> Result<()> {
        if Arc::ptr_eq(&first, self) {
            return Err(Error::Log(format!(
                "{} cannot depend on itself; nothing was changed",
                self.name()
            )));
        }
        // One dependency set at a time in the process, so that two logs wired to each other at once cannot both
        // pass the walk below (R21-1).
        static WIRING: Mutex<()> = Mutex::new(());
        let _wiring = WIRING.lock();
        // A dependency that leads back here would make this log's write-out wait for its own `io` mutex, held by
        // the same thread (a commit that hangs for good), and keep both logs alive through each other (R21-1).
        let mut on = first.first.get();
        while let Some(log) = on {
            if Arc::ptr_eq(log, self) {
                return Err(Error::Log(format!(
                    "{} cannot depend on {}, which depends on it (a cycle: each log's write-out would wait for the \
                     other's); nothing was changed",
                    self.name(),
                    first.name()
                )));
            }
            on = log.first.get();
        }
        self.first.set(first.clone()).map_err(|_| {
            Error::Log(format!(
                "{} already depends on {}; nothing was changed",
                self.name(),
                self.first.get().map_or(LogName(None), |f| f.name())
            ))
        })?;
        first.dependents.lock().push(Arc::downgrade(self));
        // Records appended before now are counted too.
        self.note_over(&mut self.state.lock());
        Ok(())
    }

    /// Bytes of records appended and not yet handed to the file: what [`BUF_SOFT_MAX`] and [`BUF_HARD_MAX`]
    /// bound. While the device is full it holds the records refused for space.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered.load(Ordering::Acquire)
    }

    /// Number of log fsyncs so far (one per group commit or WAL-rule flush that had something to make durable).
    pub fn syncs(&self) -> u64 {
        self.syncs.iter().map(|n| n.load(Ordering::Relaxed)).sum()
    }

    /// [`TreeWal::syncs`] by who asked, in the order of [`SyncCause::ALL`].
    pub fn syncs_by(&self) -> [u64; SyncCause::ALL.len()] {
        std::array::from_fn(|i| self.syncs[i].load(Ordering::Relaxed))
    }

    /// How many times so far the file's zeroed tail grew (module docs, "A file's zeroed tail"): each a write of
    /// up to [`GROW_STEP`] and a half of zeros, made durable by the fsync of the write-out that grew it.
    pub fn grows(&self) -> u64 {
        self.grows.load(Ordering::Relaxed)
    }

    /// Logical size of the log file in bytes (header included). Holes punched by truncation count, and so does
    /// the zeroed tail ahead of the records (module docs, "A file's zeroed tail"): it measures how far byte
    /// offsets have grown, not the space used; [`TreeWal::log_bytes`] is what the log holds.
    pub fn file_len(&self) -> u64 {
        let io = self.io.lock();
        io.dev.len().unwrap_or(0)
    }

    /// Bytes of records the log holds from its start (the last truncation's redo point) to the end of its
    /// appended records, buffered ones included: what recovery would read, and what a checkpoint policy bounds.
    pub fn log_bytes(&self) -> u64 {
        self.end_lsn().saturating_sub(self.start.load(Ordering::Acquire))
    }
}

impl TreeWal {
    /// The pool's write-ahead rule, both forms: `above` on the dependency if there is one (how far it must be
    /// durable), then this log durable to `lsn`; a failure as the pool's [`bufpool::Error::Wal`], or
    /// [`bufpool::Error::WalNoSpace`] for a write refused for space (typed, so that a caller tells a retryable
    /// full device from a failed log without reading the message).
    fn flush_for_pool(&self, lsn: Lsn, above: impl FnOnce(&TreeWal) -> Result<()>) -> bufpool::Result<()> {
        self.first
            .get()
            .map_or(Ok(()), |first| above(first))
            .and_then(|()| self.flush_lsn_for(lsn, SyncCause::PageWrite))
            .map_err(|e| {
                let reason = e.to_string().into();
                match e {
                    Error::NoSpace(_) => bufpool::Error::WalNoSpace { lsn, reason },
                    _ => bufpool::Error::Wal { lsn, reason },
                }
            })
    }
}

impl bufpool::Wal for TreeWal {
    /// The write-ahead rule for a page of this log's tree, when the pages are not named. With a dependency
    /// ([`TreeWal::flush_first`]), that log is made durable to its end first, even when this log is durable to
    /// `lsn` already: the page may hold covered changes ([`crate::Tree::put_covered`]) that no record of this log
    /// describes, whose records in the dependency were appended before the changes, so before the caller latched
    /// the page for this write. The pool itself calls [`TreeWal::flush_for_pages`](bufpool::Wal::flush_for_pages).
    fn flush_to(&self, lsn: Lsn) -> bufpool::Result<()> {
        self.flush_for_pool(lsn, |above| above.commit_for(SyncCause::PageWrite))
    }

    /// The write-ahead rule for pages of this log's tree, per page. With a dependency, that log is made durable
    /// only as far as the pages' noted positions (`TreeWal::note_covered`): each page's is at or past the
    /// record of every covered change it holds, and cannot change now (the pool holds the pages latched against
    /// writers, and notes are made under the exclusive latch). Usually the old pages eviction picks need nothing
    /// that is not durable already, so no fsync of the dependency. Then this log to `lsn`, whose own write-out
    /// makes the dependency durable as far as the records it writes need (`State::buf_dep`).
    ///
    /// A page that holds covered changes has an LSN above 0 (so the pool asks at all): a covered change on a
    /// page last logged at or before the redo point, which 0 always is, logs the leaf's image first.
    fn flush_for_pages(&self, lsn: Lsn, first: bufpool::PageId, count: usize) -> bufpool::Result<()> {
        self.flush_for_pool(lsn, |above| {
            above.flush_lsn_for(self.deps.max_over(first.page_no(), count), SyncCause::PageWrite)
        })
    }

    /// Whether [`TreeWal::flush_for_pages`](bufpool::Wal::flush_for_pages) would fsync: this log is not durable
    /// to `lsn`, or the dependency not as far as the pages' noted positions. A checkpoint's or flush's pass puts
    /// such runs off and then makes both logs durable once for all of them (`Wal::flush_to`), instead of an
    /// fsync for each run holding a page changed since the last one (issue 15: in TPC-C in memory, where the
    /// transaction log is never synced by commits, one run in 15 of every checkpoint). `false` once the log has
    /// failed, so the run's `flush_for_pages` reports the failure.
    fn needs_flush_for_pages(&self, lsn: Lsn, first: bufpool::PageId, count: usize) -> bool {
        self.failed.get().is_none()
            && (self.durable_lsn() < lsn
                || self
                    .first
                    .get()
                    .is_some_and(|above| above.durable_lsn() < self.deps.max_over(first.page_no(), count)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What [`visit_ops`] hands its callback, each op made owned.
    fn visited(payload: &[u8]) -> Option<Vec<OwnedOp>> {
        let mut ops = Vec::new();
        visit_ops(payload, |op| ops.push(OwnedOp::from(op)))?;
        Some(ops)
    }

    #[test]
    fn ops_roundtrip() {
        let mut img = vec![0u8; 4072];
        img[..10].fill(3);
        img[100..110].fill(9);
        let ops = [
            Op::Image { page: 7, bytes: &img },
            Op::Put {
                page: 8,
                key: b"k",
                val: b"value",
            },
            Op::Del { page: 9, key: b"kk" },
            Op::Split {
                page: 10,
                right: 11,
                pair: (b"sk", b"sv"),
            },
            Op::Inner {
                page: 12,
                sep: b"sep",
                child: 13,
            },
            Op::Patch {
                page: 14,
                key: b"pk",
                len: 6,
                edits: &[1, 0, 2, 0, b'x', b'y'],
            },
            Op::Cut {
                page: 15,
                right: 16,
                sep: b"cut",
            },
            Op::Taking { page: 17, pages: 256 },
        ];
        let mut out = (ops.len() as u16).to_le_bytes().to_vec();
        for op in &ops {
            encode_op(&mut out, op);
        }
        assert!(out.len() < 250, "the zero hole is not logged");
        let back = decode_ops(&out).unwrap();
        assert_eq!(visited(&out), Some(back.clone()));
        assert_eq!(
            back,
            vec![
                OwnedOp::Image(7, img.clone()),
                OwnedOp::Put(8, b"k".to_vec(), b"value".to_vec()),
                OwnedOp::Del(9, b"kk".to_vec()),
                OwnedOp::Split(10, 11, b"sk".to_vec(), b"sv".to_vec()),
                OwnedOp::Inner(12, b"sep".to_vec(), 13),
                OwnedOp::Patch(14, b"pk".to_vec(), 6, vec![1, 0, 2, 0, b'x', b'y']),
                OwnedOp::Cut(15, 16, b"cut".to_vec()),
                OwnedOp::Taking(17, 256),
            ]
        );
        for cut in 0..out.len() {
            assert!(decode_ops(&out[..cut]).is_none());
            assert!(visited(&out[..cut]).is_none());
        }
    }

    /// A transaction record's row ops (TPC-C New-Order's shape: a STOCK patch and an ORDER-LINE put per line,
    /// interleaved) are logged in their short form, each key coded against its table's last key in the record,
    /// and read back as they were; with long ones (a page past a byte, a key past 255 bytes, a value past 64 KiB,
    /// more tables than [`PREFIX_PAGES`]) among them. The size bound (420) is what main `fe784b6`'s encoding
    /// fails (no short form: 11 bytes of fixed fields a put, 15 a patch, every key whole: 558 bytes; 348 here).
    #[test]
    fn row_ops_are_short_and_code_keys_against_their_tables_last_key() {
        let vals: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; 8]).collect();
        let keys: Vec<[u8; 8]> = (0..10u8).map(|i| [0, 1, 3, 0, 0, 11, 210, i]).collect();
        let stock: Vec<[u8; 6]> = (0..10u8).map(|i| [0, 1, 0, i, 7, 200 - i]).collect();
        let edits = [4u8, 0, 2, 0, 9, 9];
        let mut ops = Vec::new();
        for i in 0..10 {
            ops.push(Op::Patch {
                page: 10,
                key: &stock[i],
                len: 300,
                edits: &edits,
            });
            ops.push(Op::Put {
                page: 8,
                key: &keys[i],
                val: &vals[i],
            });
        }
        let mut rec = Vec::new();
        encode_record(&mut rec, ops.iter().copied());
        assert!(rec.len() <= 420, "{} bytes: the row ops are not short", rec.len());
        let want: Vec<OwnedOp> = ops.iter().map(|&op| OwnedOp::from(op)).collect();
        assert_eq!(decode_ops(&rec[REC_HDR..]).unwrap(), want);
        assert_eq!(visited(&rec[REC_HDR..]).unwrap(), want);
        for cut in REC_HDR..rec.len() {
            assert!(decode_ops(&rec[REC_HDR..cut]).is_none());
            assert!(visited(&rec[REC_HDR..cut]).is_none());
        }

        // Long forms among short ones, and more tables than the coded ones.
        let (long_key, big) = (vec![5u8; 300], vec![1u8; 70_000]);
        let mut ops = vec![
            Op::Put {
                page: 300,
                key: b"k1",
                val: b"v",
            },
            Op::Put {
                page: 3,
                key: &long_key,
                val: b"v",
            },
            Op::Put {
                page: 3,
                key: &long_key[..299],
                val: &big,
            },
            Op::Del {
                page: 3,
                key: &long_key[..298],
            },
        ];
        let extra: Vec<[u8; 2]> = (0..2 * PREFIX_PAGES as u8).map(|p| [p, p]).collect();
        for (p, k) in extra.iter().enumerate() {
            ops.push(Op::Del {
                page: 20 + p as PageNo,
                key: k,
            });
            ops.push(Op::Put {
                page: 20 + p as PageNo,
                key: &k[..1],
                val: b"",
            });
        }
        let mut rec = Vec::new();
        encode_record(&mut rec, ops.iter().copied());
        let want: Vec<OwnedOp> = ops.iter().map(|&op| OwnedOp::from(op)).collect();
        assert_eq!(decode_ops(&rec[REC_HDR..]).unwrap(), want);

        // A short op whose prefix its table has no key for, or longer than that key, is malformed.
        let mut bad = 1u16.to_le_bytes().to_vec();
        bad.extend_from_slice(&[TAG_DEL_S, 4, 1, 1, b'x']);
        assert!(decode_ops(&bad).is_none());
        let mut bad = 2u16.to_le_bytes().to_vec();
        bad.extend_from_slice(&[TAG_DEL_S, 4, 0, 1, b'x', TAG_DEL_S, 4, 2, 0]);
        assert!(decode_ops(&bad).is_none());
    }

    /// Session 41's encoder of a record (bytes41, as at `bc3e2b7`): a page's last key found by one scan of the
    /// record's pages and set by another, the shared prefix counted a byte at a time. The encoder since session 43
    /// (perf43: one scan, [`shared_prefix`]) must write the same bytes.
    fn encode_record_bytes41(out: &mut Vec<u8>, ops: &[Op<'_>]) {
        fn set<'o>(prev: &mut Vec<(PageNo, &'o [u8])>, page: PageNo, key: &'o [u8]) {
            if let Some(e) = prev.iter_mut().find(|e| e.0 == page) {
                e.1 = key;
            } else if prev.len() < PREFIX_PAGES {
                prev.push((page, key));
            }
        }
        fn short_key<'o>(prev: &mut Vec<(PageNo, &'o [u8])>, page: PageNo, key: &'o [u8]) -> Option<([u8; 3], usize)> {
            let shared = prev
                .iter()
                .find(|e| e.0 == page)
                .map_or(0, |e| e.1.iter().zip(key).take_while(|(a, b)| a == b).count());
            set(prev, page, key);
            let page = u8::try_from(page).ok()?;
            let klen = u8::try_from(key.len()).ok()?;
            Some(([page, shared as u8, klen - shared as u8], shared))
        }
        let start = out.len();
        out.extend_from_slice(&[0u8; REC_HDR]);
        out.extend_from_slice(&(ops.len() as u16).to_le_bytes());
        let mut prev = Vec::new();
        for op in ops {
            let short = match *op {
                Op::Put { page, key, val } if val.len() <= usize::from(u16::MAX) => short_key(&mut prev, page, key)
                    .map(|(k, at)| {
                        let mut h = vec![TAG_PUT_S, k[0], k[1], k[2]];
                        h.extend_from_slice(&(val.len() as u16).to_le_bytes());
                        (h, &key[at..], val)
                    }),
                Op::Del { page, key } => short_key(&mut prev, page, key)
                    .map(|(k, at)| (vec![TAG_DEL_S, k[0], k[1], k[2]], &key[at..], &[][..])),
                Op::Patch { page, key, len, edits }
                    if len <= u32::from(u16::MAX) && edits.len() <= usize::from(u16::MAX) =>
                {
                    short_key(&mut prev, page, key).map(|(k, at)| {
                        let mut h = vec![TAG_PATCH_S, k[0], k[1], k[2]];
                        h.extend_from_slice(&(len as u16).to_le_bytes());
                        h.extend_from_slice(&(edits.len() as u16).to_le_bytes());
                        (h, &key[at..], edits)
                    })
                }
                Op::Put { page, key, .. } | Op::Patch { page, key, .. } => {
                    set(&mut prev, page, key);
                    None
                }
                _ => None,
            };
            match short {
                Some((h, rest, body)) => {
                    out.extend_from_slice(&h);
                    out.extend_from_slice(rest);
                    out.extend_from_slice(body);
                }
                None => encode_long(out, op),
            }
        }
        let len = (out.len() - start) as u32;
        out[start + 4..start + 8].copy_from_slice(&len.to_le_bytes());
    }

    /// `ops` encode as session 41's encoder wrote them, and decode back.
    fn assert_same_record_as_bytes41(ops: &[Op<'_>]) {
        let (mut rec, mut old) = (Vec::new(), Vec::new());
        encode_record(&mut rec, ops.iter().copied());
        encode_record_bytes41(&mut old, ops);
        assert_eq!(
            rec, old,
            "the record's bytes differ from session 41's encoding of {ops:?}"
        );
        let want: Vec<OwnedOp> = ops.iter().map(|&op| OwnedOp::from(op)).collect();
        assert_eq!(decode_ops(&rec[REC_HDR..]).as_ref(), Some(&want));
    }

    #[test]
    fn shared_prefix_is_the_count_of_equal_leading_bytes() {
        let bytes = |n: usize, salt: u8| (0..n).map(|i| (i as u8).wrapping_mul(31) ^ salt).collect::<Vec<u8>>();
        for la in 0..40 {
            for lb in 0..40 {
                let a = bytes(la, 7);
                // b equals a up to each position in turn, then differs (or runs out).
                for at in 0..=la.min(lb) {
                    let mut b = bytes(lb, 7);
                    if at < lb {
                        b[at] ^= 1 << (at % 8);
                    }
                    let want = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
                    assert_eq!(shared_prefix(&a, &b), want, "{a:?} {b:?}");
                    assert_eq!(shared_prefix(&b, &a), want, "{b:?} {a:?}");
                }
            }
        }
    }

    /// TPC-C's records as `ours.rs` builds them (each table a page, its index; the keys of `schema.rs`, their
    /// fields drawn): New-Order, Payment (by id, by name, with a bad-credit put) and Delivery, encoded as session
    /// 41 encoded them (R42-O5).
    #[test]
    fn tpcc_records_encode_as_session_41s_encoder_did() {
        let mut draw = crate::node::tests::xorshift(0x9e37_79b9_7f4a_7c15);
        let (wh, dist, cust, hist, new_order, order, order_cust, order_line, stock) = (0, 1, 2, 4, 5, 6, 7, 8, 10);
        let edits = [4u8, 0, 2, 0, 9, 9, 30, 0, 1, 0, 5];
        for round in 0..3000 {
            let (w, d) = (1 + draw(4) as u16, 1 + draw(10) as u8);
            let wdx = |d: u8, x: u32| {
                let mut k = w.to_be_bytes().to_vec();
                k.push(d);
                k.extend_from_slice(&x.to_be_bytes());
                k
            };
            let mut keys: Vec<(PageNo, Vec<u8>, usize)> = Vec::new(); // page, key, value length (0: a patch)
            match round % 3 {
                0 => {
                    let o = 3000 + draw(100_000) as u32;
                    keys.push((dist, wdx(d, 0)[..3].to_vec(), 0));
                    keys.push((order, wdx(d, o), 24));
                    keys.push((new_order, wdx(d, o), 0));
                    let mut oc = wdx(d, 1 + draw(3000) as u32);
                    oc.extend_from_slice(&(!o).to_be_bytes());
                    keys.push((order_cust, oc, 0));
                    for n in 1..=5 + draw(11) as u8 {
                        let mut s = w.to_be_bytes().to_vec();
                        s.extend_from_slice(&(1 + draw(100_000) as u32).to_be_bytes());
                        keys.push((stock, s, 0));
                        let mut ol = wdx(d, o);
                        ol.push(n);
                        keys.push((order_line, ol, 54));
                    }
                }
                1 => {
                    keys.push((wh, w.to_be_bytes().to_vec(), 0));
                    keys.push((dist, wdx(d, 0)[..3].to_vec(), 0));
                    let c = wdx(d, 1 + draw(3000) as u32);
                    keys.push((cust, c, if draw(10) == 0 { 655 } else { 0 }));
                    let mut h = wdx(d, 0)[..3].to_vec();
                    h.extend_from_slice(&draw(u64::MAX).to_be_bytes());
                    h.extend_from_slice(&[0, 1, 0, draw(200) as u8]);
                    keys.push((hist, h, 46));
                }
                _ => {
                    for d in 1..=10u8 {
                        let o = 2100 + draw(1000) as u32;
                        let no = wdx(d, o);
                        keys.push((new_order, no.clone(), usize::MAX));
                        keys.push((order, no, 0));
                        for n in 1..=5 + draw(11) as u8 {
                            let mut ol = wdx(d, o);
                            ol.push(n);
                            keys.push((order_line, ol, 0));
                        }
                        keys.push((cust, wdx(d, 1 + draw(3000) as u32), 0));
                    }
                }
            }
            let vals: Vec<Vec<u8>> = keys.iter().map(|k| vec![k.1[0]; k.2.min(1000)]).collect();
            let ops: Vec<Op<'_>> = keys
                .iter()
                .zip(&vals)
                .map(|((page, key, vlen), val)| match *vlen {
                    0 => Op::Patch {
                        page: *page,
                        key,
                        len: 300,
                        edits: &edits,
                    },
                    usize::MAX => Op::Del { page: *page, key },
                    _ => Op::Put { page: *page, key, val },
                })
                .collect();
            assert_same_record_as_bytes41(&ops);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 500, ..Default::default() })]
        /// Any row ops (pages past a byte and more than [`PREFIX_PAGES`] of them, keys past a byte, values past
        /// 64 KiB, keys sharing prefixes of any length), and ops of other kinds among them, encode as session 41's
        /// encoder wrote them, and decode back.
        #[test]
        fn row_ops_encode_as_session_41s_encoder_did(
            ops in proptest::collection::vec(
                (0u8..3, 0usize..24, proptest::collection::vec(0u8..3, 0..20), 0usize..12, 0usize..40),
                0..60,
            ),
        ) {
            let pages = |i: usize| [0, 1, 2, 3, 255, 256, 300, 70_000][i % 8] + (i / 8) as PageNo * 1000 % 4096;
            let long_key = vec![1u8; 300];
            let (big, edits) = (vec![7u8; 70_000], [0u8, 0, 1, 0, 5]);
            let keys: Vec<Vec<u8>> = ops
                .iter()
                .map(|(_, _, k, long, _)| if *long == 0 { long_key[..256 + k.len()].to_vec() } else { k.clone() })
                .collect();
            let ops: Vec<Op<'_>> = ops
                .iter()
                .zip(&keys)
                .map(|((kind, page, _, _, vlen), key)| {
                    let page = pages(*page);
                    let val = if *vlen == 0 { &big[..] } else { &big[..*vlen] };
                    match kind {
                        0 => Op::Put { page, key, val },
                        1 => Op::Del { page, key },
                        _ => Op::Patch {
                            page,
                            key,
                            len: if *vlen == 0 { 70_000 } else { 300 },
                            edits: &edits,
                        },
                    }
                })
                .collect();
            assert_same_record_as_bytes41(&ops);
            // Ops of other kinds among them leave the row ops' coding as it was.
            let mut mixed = vec![Op::Written { page: 5, lsn: 9 }];
            for op in &ops {
                mixed.push(*op);
                if let Op::Del { page, key } = *op {
                    mixed.push(Op::Cut { page, right: 4, sep: key });
                }
            }
            let (mut rec, mut old) = (Vec::new(), Vec::new());
            encode_record(&mut rec, mixed.iter().copied());
            encode_record_bytes41(&mut old, &mixed);
            proptest::prop_assert_eq!(rec, old);
        }
    }

    #[test]
    fn edits_turn_the_old_value_into_the_new_one_and_only_when_smaller() {
        let old: Vec<u8> = (0..=255u8).cycle().take(300).collect();
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        for round in 0..500 {
            let mut new = old.clone();
            for _ in 0..round % 12 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let at = (x % 300) as usize;
                new[at] = new[at].wrapping_add(1 + (x >> 40) as u8 % 255);
            }
            let mut edits = vec![7];
            assert!(encode_edits(&old, &new, &mut edits));
            assert_eq!(edits[0], 7, "appended after what was there");
            assert!(edits_fit(&edits[1..], old.len()));
            let mut got = old.clone();
            assert!(apply_edits(&mut got, &edits[1..]));
            assert_eq!(got, new);
            // Idempotent: applied again, nothing changes.
            assert!(apply_edits(&mut got, &edits[1..]));
            assert_eq!(got, new);
        }
        // Four changed bytes of 300 take one edit: 4 + 4 bytes.
        let mut new = old.clone();
        new[100..104].copy_from_slice(b"abcd");
        let mut edits = Vec::new();
        assert!(encode_edits(&old, &new, &mut edits));
        assert_eq!(edits.len(), 8);
        // Runs 4 equal bytes apart are one edit; 5 apart, two.
        let mut new = old.clone();
        new[10] ^= 1;
        new[15] ^= 1;
        new[30] ^= 1;
        new[36] ^= 1;
        edits.clear();
        assert!(encode_edits(&old, &new, &mut edits));
        assert_eq!(edits.len(), 4 + 6 + 4 + 1 + 4 + 1);
        // Not smaller than the value, other lengths, too long: no edits.
        let flipped: Vec<u8> = old.iter().map(|b| !b).collect();
        let mut out = vec![1, 2];
        assert!(!encode_edits(&old, &flipped, &mut out));
        assert!(!encode_edits(&old, &old[1..], &mut out));
        let big = vec![0u8; 70_000];
        assert!(!encode_edits(&big, &big, &mut out));
        assert_eq!(out, [1, 2]);
        assert!(encode_edits(&old, &old, &mut out), "no change: no edits");
        assert_eq!(out, [1, 2]);
        // Past the value's end, or cut short: refused.
        assert!(!edits_fit(&[250, 0, 10, 0], 255));
        assert!(!edits_fit(&[0, 0, 2, 0, 1], 10));
        assert!(!apply_edits(&mut [0u8; 4], &[2, 0, 3, 0, 1, 1, 1]));
        // Named ranges: empty ones skipped, one past the end refused with `out` as it was.
        let mut out = vec![7];
        assert!(encode_ranges(&new, &[2..2, 6..8], &mut out));
        assert_eq!(out, [7, 6, 0, 2, 0, new[6], new[7]]);
        assert!(!encode_ranges(&new, &[0..1, 6..new.len() + 1], &mut out));
        assert_eq!(out, [7, 6, 0, 2, 0, new[6], new[7]]);
    }

    /// The runs of a byte-by-byte diff: each changed byte starts or extends a run, runs at most `EDIT_GAP_MAX`
    /// equal bytes apart are one.
    fn runs_by_bytes(old: &[u8], new: &[u8]) -> Vec<(usize, usize)> {
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for i in (0..new.len()).filter(|&i| old[i] != new[i]) {
            match runs.last_mut() {
                Some(r) if i - r.1 <= EDIT_GAP_MAX => r.1 = i + 1,
                _ => runs.push((i, i + 1)),
            }
        }
        runs
    }

    /// [`encode_edits`] as a byte-by-byte diff ([`runs_by_bytes`]), the edits dropped if not shorter than the row.
    fn edits_by_bytes(old: &[u8], new: &[u8]) -> Option<Vec<u8>> {
        if old.len() != new.len() || new.len() > usize::from(u16::MAX) {
            return None;
        }
        let mut out = Vec::new();
        for (a, b) in runs_by_bytes(old, new) {
            out.extend_from_slice(&(a as u16).to_le_bytes());
            out.extend_from_slice(&((b - a) as u16).to_le_bytes());
            out.extend_from_slice(&new[a..b]);
            if out.len() >= new.len() {
                return None;
            }
        }
        Some(out)
    }

    #[test]
    fn used_len_is_that_of_a_byte_by_byte_scan_on_random_and_edge_images() {
        let by_bytes = |b: &[u8]| b.iter().rposition(|&x| x != 0).map_or(0, |i| i + 1);
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let mut rnd = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n.max(1)
        };
        for len in 0..40 {
            let zeros = vec![0u8; len];
            assert_eq!(used_len(&zeros), 0);
            for at in 0..len {
                let mut b = zeros.clone();
                b[at] = 1 + rnd(255) as u8;
                assert_eq!(used_len(&b), at + 1, "{b:?}");
            }
        }
        for _ in 0..5_000 {
            let len = rnd(4097) as usize;
            let mut b = vec![0u8; len];
            for _ in 0..rnd(8) {
                if len > 0 {
                    b[rnd(len as u64) as usize] = 1 + rnd(255) as u8;
                }
            }
            assert_eq!(used_len(&b), by_bytes(&b), "{b:?}");
            if Node::parse(&b).is_none() {
                assert_eq!(hole_of(&b), (by_bytes(&b), len - by_bytes(&b)));
            }
        }
    }

    #[test]
    fn edits_are_those_of_a_byte_by_byte_diff_on_random_and_edge_rows() {
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let mut rnd = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n.max(1)
        };
        let check = |old: &[u8], new: &[u8]| {
            let mut out = vec![9, 9];
            let ok = encode_edits(old, new, &mut out);
            assert_eq!(out[..2], [9, 9]);
            let want = edits_by_bytes(old, new);
            assert_eq!(ok, want.is_some(), "{old:?} -> {new:?}");
            assert_eq!(out[2..], want.clone().unwrap_or_default()[..], "{old:?} -> {new:?}");
            // The same runs named instead of found ([`encode_ranges`]): the same edits, without the comparison.
            if old.len() == new.len() {
                let runs: Vec<_> = runs_by_bytes(old, new).into_iter().map(|(a, b)| a..b).collect();
                let mut named = vec![9];
                assert_eq!(
                    encode_ranges(new, &runs, &mut named),
                    want.is_some(),
                    "{old:?} -> {new:?}"
                );
                assert_eq!(named[1..], want.unwrap_or_default()[..], "{old:?} -> {new:?}");
            }
        };
        for round in 0..20_000 {
            let len = match round % 4 {
                0 => rnd(24) as usize,
                1 => rnd(80) as usize,
                _ => rnd(700) as usize,
            };
            let old: Vec<u8> = (0..len).map(|_| rnd(256) as u8).collect();
            let mut new = old.clone();
            // Changes of every shape: single bytes, short fields, gaps of 0 to 12 equal bytes between them,
            // the first and the last byte.
            for _ in 0..rnd(if round % 3 == 0 { 40 } else { 6 }) {
                if len == 0 {
                    break;
                }
                let at = match rnd(6) {
                    0 => 0,
                    1 => len - 1,
                    _ => rnd(len as u64) as usize,
                };
                for b in &mut new[at..(at + 1 + rnd(6) as usize).min(len)] {
                    *b = b.wrapping_add(1 + rnd(255) as u8);
                }
                let gap = at + 2 + rnd(12) as usize;
                if gap < len {
                    new[gap] ^= 0x80;
                }
            }
            check(&old, &new);
        }
        // Every pair of changed bytes in a 40-byte row (every gap, at every alignment).
        let old = vec![0u8; 40];
        for a in 0..40 {
            for b in a..40 {
                let mut new = old.clone();
                new[a] = 1;
                new[b] = 2;
                check(&old, &new);
            }
        }
        check(&[], &[]);
        check(&[1], &[2]);
        check(&[1; 7], &[1; 7]);
    }

    #[test]
    fn append_commit_reopen_and_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let wal = TreeWal::open(&path).unwrap();
        let mut ends = Vec::new();
        for i in 0..100u32 {
            let k = i.to_be_bytes();
            ends.push(
                wal.append(&[Op::Put {
                    page: i,
                    key: &k,
                    val: b"v",
                }])
                .unwrap(),
            );
        }
        wal.commit().unwrap();
        assert_eq!(wal.durable_lsn(), *ends.last().unwrap());
        drop(wal);
        // Tear the last record: reopen must stop before it and cut the tail (the zeroed tail after it goes too).
        let len = LOG_HDR + (ends[99] - FIRST_LSN);
        assert!(std::fs::metadata(&path).unwrap().len() >= len + GROW_STEP / 2);
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(len - 3).unwrap();
        drop(f);
        let wal = TreeWal::open(&path).unwrap();
        let mut seen = Vec::new();
        let end = wal
            .scan(|end, ops| {
                seen.push((end, ops));
                Ok(())
            })
            .unwrap();
        assert_eq!(seen.len(), 99);
        assert_eq!(end, ends[98]);
        assert_eq!(wal.end_lsn(), ends[98]);
        // Appends continue at the cut; a later reopen sees them.
        let e = wal.append(&[Op::Del { page: 1, key: b"x" }]).unwrap();
        wal.commit().unwrap();
        drop(wal);
        let wal = TreeWal::open(&path).unwrap();
        assert_eq!(wal.end_lsn(), e);
    }

    #[test]
    fn truncate_keeps_tail_and_lsns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let wal = TreeWal::open(&path).unwrap();
        for i in 0..50u32 {
            wal.append(&[Op::Del { page: i, key: b"a" }]).unwrap();
        }
        let redo = wal.begin_checkpoint();
        let e = wal.append(&[Op::Del { page: 99, key: b"b" }]).unwrap();
        wal.truncate_before(redo).unwrap();
        wal.commit().unwrap();
        drop(wal);
        let wal = TreeWal::open(&path).unwrap();
        let mut seen = Vec::new();
        wal.scan(|end, ops| {
            seen.push((end, ops));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec![(e, vec![OwnedOp::Del(99, b"b".to_vec())])]);
    }

    /// Appends `n` records of about 1 KiB each (pages from `first`); returns their ends.
    fn append_many(wal: &TreeWal, first: u32, n: u32) -> Vec<Lsn> {
        (first..first + n)
            .map(|i| {
                wal.append(&[Op::Put {
                    page: i,
                    key: &i.to_be_bytes(),
                    val: &[i as u8; 1000],
                }])
                .unwrap()
            })
            .collect()
    }

    fn scan_all(wal: &TreeWal) -> Vec<(Lsn, Vec<OwnedOp>)> {
        let mut seen = Vec::new();
        wal.scan(|end, ops| {
            seen.push((end, ops));
            Ok(())
        })
        .unwrap();
        seen
    }

    /// R31-1: the file keeps zeros ahead of its records, so a commit's fsync changes no length (no metadata for
    /// the file system's journal to commit): only a growth does, every half step of records or more, and the
    /// bytes past the records read as zeros, the end of the log.
    #[test]
    fn commits_overwrite_a_zeroed_tail_and_leave_the_length_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let wal = TreeWal::open(&path).unwrap();
        assert_eq!(wal.file_len(), LOG_HDR, "a new log is its header");
        let (mut lens, mut commits) = (vec![], 0u64);
        for i in 0..2000u32 {
            wal.append(&[Op::Put {
                page: i,
                key: &i.to_be_bytes(),
                val: &[7u8; 500],
            }])
            .unwrap();
            wal.commit().unwrap();
            commits += 1;
            let len = wal.file_len();
            let end = LOG_HDR + (wal.end_lsn() - FIRST_LSN);
            assert!(
                len >= end + GROW_STEP / 2,
                "commit {i}: records end at {end}, the file at {len}"
            );
            assert_eq!(len % GROW_STEP, 0);
            if lens.last() != Some(&len) {
                lens.push(len);
            }
        }
        // About a megabyte of records: the length changed once per growth, not once per commit.
        assert_eq!(wal.grows(), lens.len() as u64);
        assert!((3..=6).contains(&lens.len()), "{lens:?} over {commits} commits");
        let end = LOG_HDR + (wal.end_lsn() - FIRST_LSN);
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes[end as usize..].iter().all(|&b| b == 0), "past the records: zeros");
        let ends = scan_all(&wal);
        drop(wal);
        // A reopen reads the same records and cuts the zeroed tail; the next write-out grows it again.
        let wal = TreeWal::open(&path).unwrap();
        assert_eq!(scan_all(&wal), ends);
        assert_eq!(wal.file_len(), end);
        wal.append(&[Op::Del { page: 1, key: b"x" }]).unwrap();
        wal.commit().unwrap();
        assert_eq!(wal.file_len(), zeroed_end(LOG_HDR + (wal.end_lsn() - FIRST_LSN)));
    }

    fn allocated(path: &Path) -> u64 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).unwrap().blocks() * 512
    }

    #[test]
    fn a_punched_log_gives_space_back_and_reopens_with_the_same_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let wal = TreeWal::open(&path).unwrap();
        append_many(&wal, 0, 4000);
        let redo = wal.begin_checkpoint();
        append_many(&wal, 4000, 100);
        wal.commit().unwrap();
        let (len, used) = (wal.file_len(), allocated(&path));
        assert!(used >= 4_000_000, "the records take space: {used}");
        let before = scan_all(&wal);
        wal.truncate_before(redo).unwrap();
        let kept: Vec<_> = before.into_iter().filter(|&(end, _)| end > redo).collect();
        assert_eq!(kept.len(), 100);
        assert_eq!(wal.rewrites(), 0, "a punch, not a rewrite");
        assert_eq!(wal.file_len(), len, "the length and every offset stay");
        assert!(
            allocated(&path) < 500_000 + 2 * GROW_STEP,
            "the dead records' blocks are given back: {}",
            allocated(&path)
        );
        assert_eq!(wal.log_bytes(), wal.end_lsn() - redo);
        assert_eq!(scan_all(&wal), kept);
        // A second cut punches on from where the first stopped; appends after it reopen in place.
        let redo2 = wal.begin_checkpoint();
        let more = append_many(&wal, 5000, 10);
        wal.truncate_before(redo2).unwrap();
        drop(wal);
        let wal = TreeWal::open(&path).unwrap();
        let seen = scan_all(&wal);
        assert_eq!(seen.iter().map(|s| s.0).collect::<Vec<_>>(), more);
        assert_eq!(wal.start_lsn(), redo2);
        assert_eq!(wal.end_lsn(), *more.last().unwrap());
    }

    #[test]
    fn a_torn_header_slot_after_a_punch_leaves_the_slot_in_force_and_its_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let wal = TreeWal::open(&path).unwrap();
        append_many(&wal, 0, 2000);
        let redo = wal.begin_checkpoint();
        let live = append_many(&wal, 2000, 50);
        wal.truncate_before(redo).unwrap();
        drop(wal);
        // A crash while the next cut writes its slot (the one not in force, holding the first log's header):
        // torn, so not valid. The slot in force names `redo`, above every punched byte.
        let in_force = {
            let f = File::open(&path).unwrap();
            SLOT_AT
                .into_iter()
                .max_by_key(|&at| {
                    let mut b = [0u8; SLOT_LEN];
                    f.read_exact_at(&mut b, at).unwrap();
                    Header::decode(&b).map_or(0, |h| h.seq + 1)
                })
                .unwrap()
        };
        let other = SLOT_AT.into_iter().find(|&at| at != in_force).unwrap();
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.write_all_at(&[0xa5; 40], other).unwrap();
        drop(f);
        let wal = TreeWal::open(&path).unwrap();
        assert_eq!(wal.start_lsn(), redo);
        assert_eq!(scan_all(&wal).iter().map(|s| s.0).collect::<Vec<_>>(), live);
    }

    /// R29-2: a symbolic link at the rewrite's temporary name (`<name>.tmp`) is not followed: the rewrite truncated
    /// the link's target and copied the log into it (then renamed the link over the log, whose records were still
    /// found through it). The link is removed and the copy made anew; the target keeps its bytes.
    #[test]
    fn a_rewrite_follows_no_symlink_at_its_temporary_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"not the log's to write").unwrap();
        let wal = TreeWal::open(&path).unwrap();
        // After the open, which removes what is under the temporary name (R30-24).
        std::os::unix::fs::symlink(&victim, dir.path().join("log.tmp")).unwrap();
        append_many(&wal, 0, 100);
        let redo = wal.begin_checkpoint();
        append_many(&wal, 100, 10);
        wal.commit().unwrap();
        let kept: Vec<_> = scan_all(&wal).into_iter().filter(|&(end, _)| end > redo).collect();
        wal.set_rewrite_len(0);
        wal.truncate_before(redo).unwrap();
        assert_eq!(wal.rewrites(), 1);
        assert!(
            std::fs::read(&victim).unwrap() == b"not the log's to write",
            "the rewrite copied the log into the link's target"
        );
        assert!(!std::fs::symlink_metadata(&path).unwrap().file_type().is_symlink());
        assert_eq!(scan_all(&wal), kept);
        drop(wal);
        assert_eq!(scan_all(&TreeWal::open(&path).unwrap()), kept);
    }

    /// R30-24: a rewrite that a crash stopped before its rename left its copy (`<name>.tmp`, here 1 MiB of it):
    /// it took its space until the log's next rewrite, which at [`REWRITE_LEN`] may be far off. The next open of
    /// the log removes it, and the log is the one before the rewrite, every record there.
    #[test]
    fn a_rewrite_copy_left_by_a_crash_is_removed_by_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let wal = TreeWal::open(&path).unwrap();
        append_many(&wal, 0, 100);
        wal.commit().unwrap();
        let all = scan_all(&wal);
        drop(wal);
        let tmp = dir.path().join("log.tmp");
        std::fs::write(&tmp, vec![0x5a; 1 << 20]).unwrap();
        let wal = TreeWal::open(&path).unwrap();
        assert!(!tmp.exists(), "the stopped rewrite's copy is still there");
        assert_eq!(scan_all(&wal), all);
    }

    #[test]
    fn a_rewrite_past_the_length_bound_resets_offsets_and_keeps_the_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let wal = TreeWal::open(&path).unwrap();
        append_many(&wal, 0, 1000);
        let redo = wal.begin_checkpoint();
        append_many(&wal, 1000, 20);
        wal.commit().unwrap();
        let kept: Vec<_> = scan_all(&wal).into_iter().filter(|&(end, _)| end > redo).collect();
        wal.set_rewrite_len(0);
        let syncs = wal.syncs_by()[SyncCause::Checkpoint as usize];
        wal.truncate_before(redo).unwrap();
        assert_eq!(wal.rewrites(), 1);
        assert_eq!(
            wal.syncs_by()[SyncCause::Checkpoint as usize],
            syncs + 1,
            "one fsync of the new file"
        );
        assert_eq!(
            wal.file_len(),
            zeroed_end(LOG_HDR + (wal.end_lsn() - redo)),
            "offsets start again at the redo point"
        );
        assert_eq!(scan_all(&wal), kept);
        assert!(!dir.path().join("log.tmp").exists());
        // Appends go on in the new file, and a reopen finds them after the kept records.
        let more = append_many(&wal, 2000, 5);
        wal.commit().unwrap();
        drop(wal);
        let wal = TreeWal::open(&path).unwrap();
        let seen = scan_all(&wal);
        assert_eq!(seen.len(), kept.len() + more.len());
        assert_eq!(seen[..kept.len()], kept[..]);
        assert_eq!(wal.end_lsn(), *more.last().unwrap());
    }

    #[test]
    fn a_file_system_that_refuses_punches_gets_rewrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let wal = TreeWal::open(&path).unwrap();
        // What a refused punch (EOPNOTSUPP) leaves behind: the header slot of that cut stands, and every later
        // cut rewrites.
        wal.trunc.lock().no_punch = true;
        append_many(&wal, 0, 500);
        let redo = wal.begin_checkpoint();
        let live = append_many(&wal, 500, 10);
        wal.truncate_before(redo).unwrap();
        assert_eq!(wal.rewrites(), 1);
        assert_eq!(wal.file_len(), zeroed_end(LOG_HDR + (wal.end_lsn() - redo)));
        drop(wal);
        let wal = TreeWal::open(&path).unwrap();
        assert_eq!(scan_all(&wal).iter().map(|s| s.0).collect::<Vec<_>>(), live);
    }

    #[test]
    fn appends_and_commits_during_a_rewrite_land_in_the_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let wal = TreeWal::open(&path).unwrap();
        wal.set_rewrite_len(0);
        append_many(&wal, 0, 3000);
        let mut ends = Vec::new();
        std::thread::scope(|s| {
            let w = &wal;
            let writer = s.spawn(move || {
                let mut ends = Vec::new();
                for round in 0..20u32 {
                    ends.extend(append_many(w, 10_000 + round * 50, 50));
                    w.commit().unwrap();
                }
                ends
            });
            for _ in 0..5 {
                let redo = wal.begin_checkpoint();
                wal.truncate_before(redo).unwrap();
            }
            ends = writer.join().unwrap();
        });
        wal.commit().unwrap();
        let start = wal.start_lsn();
        let want: Vec<_> = ends.iter().copied().filter(|&e| e > start).collect();
        let got: Vec<_> = scan_all(&wal).iter().map(|s| s.0).collect();
        // Records of the first 3000 may be kept too (before the writer's), never lost or reordered.
        assert!(
            got.ends_with(&want),
            "every record from the start on is in the file, in order"
        );
        drop(wal);
        let wal = TreeWal::open(&path).unwrap();
        assert!(scan_all(&wal).iter().map(|s| s.0).collect::<Vec<_>>().ends_with(&want));
    }

    #[test]
    fn a_dependent_log_makes_its_dependency_durable_before_writing() {
        let dir = tempfile::tempdir().unwrap();
        let first = TreeWal::open(dir.path().join("txn")).unwrap();
        let wal = TreeWal::open(dir.path().join("tree")).unwrap();
        assert!(wal.flush_first(wal.clone()).is_err(), "a log cannot depend on itself");
        wal.flush_first(first.clone()).unwrap();
        assert!(wal.flush_first(first.clone()).is_err(), "one dependency only");
        let t = first.append(&[Op::Del { page: 1, key: b"t" }]).unwrap();
        wal.append(&[Op::Del { page: 2, key: b"w" }]).unwrap();
        assert!(first.durable_lsn() < t);
        // A commit of the dependent log...
        wal.commit().unwrap();
        assert_eq!(first.durable_lsn(), t, "the dependency was made durable first");
        // ...and a plain write-out alike. An appender leaves a large buffer whose dependency is not durable far
        // enough (no fsync on its path) to `write_out`, which flushes the dependency first.
        let t2 = first.append(&[Op::Del { page: 3, key: b"t" }]).unwrap();
        let syncs = first.syncs_by();
        let big = wal
            .append(&[Op::Put {
                page: 4,
                key: b"big",
                val: &vec![7u8; BUF_SOFT_MAX + 1],
            }])
            .unwrap();
        assert!(first.durable_lsn() < t2, "the appender did not flush the dependency");
        assert_eq!(first.syncs_by(), syncs);
        assert!(wal.write_out().unwrap(), "the large buffer is written out");
        assert_eq!(
            first.durable_lsn(),
            t2,
            "writing the buffer out flushed the dependency first"
        );
        assert_eq!(
            first.syncs_by()[SyncCause::WriteOut as usize],
            syncs[SyncCause::WriteOut as usize] + 1
        );
        assert!(!wal.write_out().unwrap(), "nothing left to write out");
        assert!(wal.durable_lsn() < big, "a write-out does not fsync the log itself");
        // Past the hard bound the appender writes the buffer out itself, dependency first.
        // (In two records: one past the hard bound is past `RECORD_MAX`, which an append refuses, R14-1.)
        let t2b = first.append(&[Op::Del { page: 3, key: b"u" }]).unwrap();
        for _ in 0..2 {
            wal.append(&[Op::Put {
                page: 4,
                key: b"huge",
                val: &vec![7u8; BUF_HARD_MAX / 2 + 1],
            }])
            .unwrap();
        }
        assert_eq!(
            first.durable_lsn(),
            t2b,
            "an appender past the hard bound flushed the dependency"
        );
        assert_eq!(first.syncs_by()[SyncCause::AppendSpill as usize], 1);
        // Past the soft bound with the dependency durable far enough, the appender writes without any fsync.
        let syncs = first.syncs();
        wal.append(&[Op::Put {
            page: 4,
            key: b"big",
            val: &vec![7u8; BUF_SOFT_MAX + 1],
        }])
        .unwrap();
        assert!(!wal.write_out().unwrap(), "the appender wrote it out");
        assert_eq!(first.syncs(), syncs);
        // Nothing to write: the dependency is left alone.
        let t3 = first.append(&[Op::Del { page: 5, key: b"t" }]).unwrap();
        wal.commit().unwrap();
        wal.commit().unwrap();
        assert!(first.durable_lsn() < t3);
        // A log without a dependency never touches another.
        let other = TreeWal::open(dir.path().join("other")).unwrap();
        other.append(&[Op::Del { page: 6, key: b"o" }]).unwrap();
        other.commit().unwrap();
        assert!(first.durable_lsn() < t3);
        // Only as far as the records written need (the dependency's end when each was appended, not its end
        // now): a record appended when the dependency ended at t4, which is durable, costs it no fsync.
        let t4 = first.append(&[Op::Del { page: 7, key: b"t" }]).unwrap();
        wal.append(&[Op::Del { page: 8, key: b"w" }]).unwrap();
        first.commit().unwrap();
        let t5 = first.append(&[Op::Del { page: 9, key: b"t" }]).unwrap();
        let syncs = first.syncs();
        wal.commit().unwrap();
        assert_eq!(first.syncs(), syncs, "the dependency was durable far enough");
        assert_eq!(first.durable_lsn(), t4);
        assert!(t5 > t4);
    }

    /// A record sealed (LSN, checksum) for an LSN another append took before its own took the lock is sealed again
    /// for the LSN it gets: read back after a reopen, whole, at its own LSN. Fails if `place_locked` copies it as
    /// sealed (its checksum and LSN are those of another position: the scan stops before it and `open` cuts it).
    #[test]
    fn a_record_sealed_for_an_lsn_taken_meanwhile_is_sealed_again_for_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let wal = TreeWal::open(&path).unwrap();
        let guess = wal.end_lsn();
        let mut rec = Vec::new();
        encode_record(
            &mut rec,
            [Op::Put {
                page: 2,
                key: b"late",
                val: b"sealed early",
            }]
            .into_iter(),
        );
        seal(&mut rec, guess);
        // Another append takes `guess` between the seal and the lock.
        let first = wal
            .append(&[Op::Put {
                page: 1,
                key: b"first",
                val: b"v",
            }])
            .unwrap();
        let second = {
            let mut st = wal.state.lock();
            wal.place_locked(&mut st, &mut rec, guess)
        };
        assert_eq!(second, first + rec.len() as u64);
        let third = wal.append(&[Op::Del { page: 3, key: b"after" }]).unwrap();
        wal.commit().unwrap();
        drop(wal);
        let wal = TreeWal::open(&path).unwrap();
        let seen = scan_all(&wal);
        let ends: Vec<Lsn> = seen.iter().map(|r| r.0).collect();
        assert_eq!(ends, [first, second, third]);
        assert_eq!(seen[1].1, [OwnedOp::Put(2, b"late".to_vec(), b"sealed early".to_vec())]);
        assert_eq!(wal.end_lsn(), third);
    }

    /// Appenders racing on one log (a record sealed for an LSN another append took meanwhile is sealed again, and
    /// the buffer is spilled past [`BUF_SOFT_MAX`] by whoever finds the file free): after a commit and a reopen
    /// the log holds every record once, whole, at the LSN its append returned, each thread's in its order.
    #[test]
    fn racing_appenders_records_are_read_back_at_the_lsns_their_appends_returned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let wal = TreeWal::open(&path).unwrap();
        let (threads, each) = (4u32, 3000u32);
        let returned: Vec<Vec<Lsn>> = std::thread::scope(|s| {
            let spawned: Vec<_> = (0..threads)
                .map(|t| {
                    let wal = &wal;
                    s.spawn(move || {
                        (0..each)
                            .map(|i| {
                                let val = vec![t as u8; (i as usize * 37) % 900];
                                let key = i.to_be_bytes();
                                wal.append(&[Op::Put {
                                    page: t,
                                    key: &key,
                                    val: &val,
                                }])
                                .unwrap()
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            spawned.into_iter().map(|h| h.join().unwrap()).collect()
        });
        wal.commit().unwrap();
        drop(wal);
        let wal = TreeWal::open(&path).unwrap();
        let seen = scan_all(&wal);
        assert_eq!(seen.len(), (threads * each) as usize);
        let mut next = vec![0u32; threads as usize];
        for (end, ops) in &seen {
            let [OwnedOp::Put(t, key, val)] = &ops[..] else {
                panic!("unexpected ops {ops:?}")
            };
            let i = next[*t as usize];
            assert_eq!(key, &i.to_be_bytes(), "thread {t}'s records out of order");
            assert_eq!(val, &vec![*t as u8; (i as usize * 37) % 900]);
            assert_eq!(
                *end, returned[*t as usize][i as usize],
                "record at another LSN than its append's"
            );
            next[*t as usize] += 1;
        }
    }

    #[test]
    fn concurrent_committers_all_durable() {
        let dir = tempfile::tempdir().unwrap();
        let wal = TreeWal::open(dir.path().join("log")).unwrap();
        std::thread::scope(|s| {
            for t in 0..4u32 {
                let wal = &wal;
                s.spawn(move || {
                    for i in 0..50u32 {
                        let lsn = wal
                            .append(&[Op::Del {
                                page: t * 1000 + i,
                                key: b"k",
                            }])
                            .unwrap();
                        wal.commit().unwrap();
                        assert!(wal.durable_lsn() >= lsn);
                    }
                });
            }
        });
        let mut n = 0;
        wal.scan(|_, _| {
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 200);
    }

    /// L41-O1: a build that knows an older record format (here `known = 0`: a build before the format, which reads
    /// legacy slots only) refuses a log of this build's format, and leaves it as it was; the build that wrote it
    /// opens it whole. Until session 42 nothing told such a build, and it cut the log at the first op it did not
    /// know (across builds: `fe784b6` opening a log of 1,000 short-op puts by `a7933b7` read 0 records and cut
    /// the file to its header).
    #[test]
    fn a_log_opened_by_a_build_that_knows_an_older_format_is_refused_and_left_whole() {
        let log = Arc::new(bufpool::storage::MemoryStorage::new());
        let open =
            |known: u32| TreeWal::open_device(Device::Storage(Arc::new(Opened::new(log.clone()))), None, None, known);
        let wal = open(LOG_FORMAT).unwrap();
        for i in 0..100u32 {
            wal.append(&[Op::Put {
                page: 3,
                key: &i.to_be_bytes(),
                val: b"v",
            }])
            .unwrap();
        }
        wal.commit().unwrap();
        drop(wal);
        let bytes = || {
            let mut b = vec![0u8; log.len().unwrap() as usize];
            assert_eq!(log.read_at(&mut b, 0).unwrap(), b.len());
            b
        };
        let before = bytes();
        match open(LOG_FORMAT - 1) {
            Err(Error::LogFormat { found, known, .. }) => {
                assert_eq!((found, known), (Some(LOG_FORMAT), LOG_FORMAT - 1))
            }
            Err(e) => panic!("refused with another error: {e}"),
            Ok(_) => panic!("a log of a format this build does not know was opened"),
        }
        assert!(bytes() == before, "the refused open changed the log");
        let mut n = 0;
        open(LOG_FORMAT)
            .unwrap()
            .scan(|_, _| {
                n += 1;
                Ok(())
            })
            .unwrap();
        assert_eq!(n, 100);
    }
}
