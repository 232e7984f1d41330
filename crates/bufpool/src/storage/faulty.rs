//! `FaultyStorage`: an in-memory [`Storage`] that injects faults and simulates crashes. **Test tooling**: it exists
//! for the reliability tests and the simulator, never for production use.
//!
//! Owns two images of one file and the fault decisions made against them:
//! - the *live* image: what reads see (the OS page cache, in a real system);
//! - the *durable* image: what survives a crash (the platter / flash, after `fsync`); with the pending writes over
//!   it, what [`Storage::read_device_at`] reads (an O_DIRECT read, which writes a range's dirty pages back first);
//! - the *pending* list: writes that reached the live image but not yet the durable one, in issue order.
//!
//! `sync` moves every pending write to the durable image. [`FaultyStorage::crash`] ends the life of the storage and
//! returns the image a restarted process would find: the durable image plus a random subset of the pending writes'
//! 512-byte sectors (per [`FaultConfig::crash_keep_unsynced`]), which is how torn pages and lost unsynced writes
//! arise. [`FaultyStorage::crash_garbling`] is a power loss during the device's write of the pending writes on a
//! device that garbles the sectors it was writing (neither old nor new bytes: a real disk's sector cut off
//! mid-write); [`FaultyStorage::crash_garbling_blocks`] the same through a page cache of 4 KiB blocks, every sector
//! of a block a pending write touched in flight with it. After a crash every call fails with EIO, so threads still
//! running against the dead storage get errors.
//!
//! A storage made [`FaultyStorage::with_area`] also keeps a file record (in memory, durable at once, as
//! [`MemoryStorage`]'s) and a doublewrite area ([`Storage::doublewrite_store`]) on a second faulty storage that
//! takes no fault but a crash: the data file's crash crashes it too, in the same way (kept, lost, torn or garbled
//! sectors), and [`FaultyStorage::area_images`] returns what a restarted process finds of both, to reopen on.
//!
//! # Faults
//! Each read, write and sync draws from a ChaCha8 generator seeded by the caller, in the order the calls take the
//! storage's one mutex; per-kind probabilities come from [`FaultConfig`], and one-shot triggers
//! ([`FaultyStorage::inject_nth`]) force a chosen fault on the n-th call of a kind. A trigger wins over the
//! probabilities. What each fault does:
//!
//! | fault                  | read                          | write                                                  | sync                          |
//! |------------------------|-------------------------------|--------------------------------------------------------|-------------------------------|
//! | [`Fault::Eio`]         | EIO, buffer untouched         | EIO; a random prefix of its sectors (maybe none) landed | EIO; pending writes are *dropped*: they stay in the live image but never become durable (the Linux behaviour PostgreSQL met in 2018) |
//! | [`Fault::EioPersistent`] | as `Eio`, and every later read fails | as `Eio`, and every later write fails            | as `Eio`, and every later sync fails |
//! | [`Fault::Short`]       | `Ok(n)` with `n` a sector multiple below the length | a strict prefix of sectors lands; `write_at` fails with `WriteZero`, `submit` reports `Ok(n)` | - |
//! | [`Fault::Torn`]        | -                             | `Ok`, but only a random non-empty strict subset of its sectors lands (a device that lies) | - |
//! | [`Fault::Misdirected`] | -                             | `Ok`, the right bytes land at another page-aligned offset; the target keeps its old bytes | - |
//! | [`Fault::Latency`]     | sleeps up to `latency_max`    | sleeps up to `latency_max`                             | sleeps up to `latency_max`    |
//! | [`Fault::NoSpace`]     | -                             | ENOSPC; a random prefix of its sectors (maybe none) landed, nothing is dropped | - |
//!
//! # Determinism
//! With one thread calling it, the same seed, configuration and call sequence give the same faults, the same
//! images and the same [`FaultyStorage::trace_hash`]. With several threads the interleaving decides which call
//! draws which number, so runs differ; tests that check determinism drive the storage from one thread.
//!
//! # Invariants
//! - `durable` is only changed by a successful `sync` (and by nothing after a crash).
//! - Every byte of `live` that differs from `durable` is covered by a pending write, or by a write dropped by a
//!   failed sync (which never becomes durable).
//! - All state is behind one mutex; latency sleeps happen outside it.

use std::io;
use std::time::Duration;

use parking_lot::Mutex;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{IoKind, IoRequest, MemoryRecord, MemoryStorage, RecordStore, Storage, StorageInfo};

/// Granularity of torn writes and of crash survival: one disk sector.
pub const SECTOR_SIZE: usize = 512;
/// A page of the page cache a file is written through: the unit [`FaultyStorage::crash_garbling_blocks`] puts in
/// flight.
pub const BLOCK_SIZE: usize = 4096;
const _: () = assert!(BLOCK_SIZE.is_multiple_of(SECTOR_SIZE));

/// The kinds of call a fault can be injected into.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Op {
    /// `read_at`, or a read request of `submit`.
    Read,
    /// `write_at`, or a write request of `submit`.
    Write,
    /// `sync`.
    Sync,
}

/// A fault to inject. The module docs' table says what each does to each [`Op`]; a fault that has no meaning for
/// an op (e.g. `Torn` on a read) is ignored there.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Fault {
    /// A transient EIO: this call fails.
    Eio,
    /// A persistent EIO: this call and every later call of the same op fail.
    EioPersistent,
    /// A short transfer.
    Short,
    /// A silently torn write.
    Torn,
    /// A write that lands at the wrong offset.
    Misdirected,
    /// A delay before the call proceeds normally.
    Latency,
    /// ENOSPC on a write: a random prefix of its sectors (maybe none) landed, the rest did not, and nothing
    /// already written is dropped (a full device, unlike a failed sync). One-shot: inject it with
    /// [`FaultyStorage::inject_next`]; the next write succeeds again, as after space was freed.
    NoSpace,
}

/// Per-call probabilities (each in `0.0..=1.0`) of each fault, and the crash model.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultConfig {
    /// Probability that a read fails with EIO.
    pub read_eio: f64,
    /// Probability that a write fails with EIO (a random prefix of its sectors may have landed).
    pub write_eio: f64,
    /// Probability that a sync fails with EIO (dropping the pending writes).
    pub sync_eio: f64,
    /// When true, every injected EIO is persistent: the op fails from then on.
    pub eio_persistent: bool,
    /// Probability that a read returns short.
    pub short_read: f64,
    /// Probability that a write lands only a strict prefix of its sectors.
    pub short_write: f64,
    /// Probability that a write silently lands only some of its sectors.
    pub torn_write: f64,
    /// Probability that a write silently lands at the wrong offset.
    pub misdirected_write: f64,
    /// Probability that a call sleeps before proceeding.
    pub latency: f64,
    /// Longest injected sleep.
    pub latency_max: Duration,
    /// At a crash, the probability that each sector of each pending (unsynced) write survives. `0.0`: every
    /// unsynced write is lost; `1.0`: every one survives; in between, pages tear at sector boundaries.
    pub crash_keep_unsynced: f64,
}

impl FaultConfig {
    /// No faults; a crash loses every unsynced write.
    pub fn none() -> FaultConfig {
        FaultConfig {
            read_eio: 0.0,
            write_eio: 0.0,
            sync_eio: 0.0,
            eio_persistent: false,
            short_read: 0.0,
            short_write: 0.0,
            torn_write: 0.0,
            misdirected_write: 0.0,
            latency: 0.0,
            latency_max: Duration::ZERO,
            crash_keep_unsynced: 0.0,
        }
    }

    /// Only crash faults: no error is injected, and a crash keeps each unsynced sector with probability one half
    /// (so unsynced pages may tear).
    pub fn crash_only() -> FaultConfig {
        FaultConfig {
            crash_keep_unsynced: 0.5,
            ..FaultConfig::none()
        }
    }

    /// Every fault that an honest device can produce, each at probability `p`: EIO on every op, short reads and
    /// writes, and tearing at crash. Silent faults (torn and misdirected writes that report success) are left
    /// out: they are corruption, which the pool can only detect, not prevent.
    pub fn honest(p: f64) -> FaultConfig {
        FaultConfig {
            read_eio: p,
            write_eio: p,
            sync_eio: p,
            short_read: p,
            short_write: p,
            crash_keep_unsynced: 0.5,
            ..FaultConfig::none()
        }
    }
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig::none()
    }
}

/// How many faults of each kind were injected, and how many calls were made.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct FaultCounts {
    /// Reads called.
    pub reads: u64,
    /// Writes called.
    pub writes: u64,
    /// Syncs called.
    pub syncs: u64,
    /// Reads failed with an injected EIO (including persistent ones).
    pub read_eio: u64,
    /// Writes failed with an injected EIO.
    pub write_eio: u64,
    /// Syncs failed with an injected EIO.
    pub sync_eio: u64,
    /// Writes failed with an injected ENOSPC ([`Fault::NoSpace`]).
    pub write_no_space: u64,
    /// Pending writes dropped by a failed sync: present in the live image, never durable.
    pub writes_dropped_by_failed_sync: u64,
    /// Short reads.
    pub short_reads: u64,
    /// Short writes.
    pub short_writes: u64,
    /// Silently torn writes.
    pub torn_writes: u64,
    /// Misdirected writes.
    pub misdirected_writes: u64,
    /// Injected sleeps.
    pub latencies: u64,
    /// Crashes.
    pub crashes: u64,
    /// At crashes: pending writes of which every sector survived.
    pub crash_writes_kept: u64,
    /// At crashes: pending writes of which some sectors survived and some were lost (torn at the crash).
    pub crash_writes_torn: u64,
    /// At crashes: pending writes of which no sector survived.
    pub crash_writes_lost: u64,
    /// At crashes of [`FaultyStorage::crash_garbling`]: sectors of pending writes left garbled.
    pub crash_sectors_garbled: u64,
}

impl FaultCounts {
    /// Adds `other` into `self`, for totals over many runs.
    pub fn add(&mut self, other: &FaultCounts) {
        self.reads += other.reads;
        self.writes += other.writes;
        self.syncs += other.syncs;
        self.read_eio += other.read_eio;
        self.write_eio += other.write_eio;
        self.sync_eio += other.sync_eio;
        self.write_no_space += other.write_no_space;
        self.writes_dropped_by_failed_sync += other.writes_dropped_by_failed_sync;
        self.short_reads += other.short_reads;
        self.short_writes += other.short_writes;
        self.torn_writes += other.torn_writes;
        self.misdirected_writes += other.misdirected_writes;
        self.latencies += other.latencies;
        self.crashes += other.crashes;
        self.crash_writes_kept += other.crash_writes_kept;
        self.crash_writes_torn += other.crash_writes_torn;
        self.crash_writes_lost += other.crash_writes_lost;
        self.crash_sectors_garbled += other.crash_sectors_garbled;
    }

    /// Faults injected, all kinds together (latency included, crashes not).
    pub fn faults(&self) -> u64 {
        self.read_eio
            + self.write_eio
            + self.sync_eio
            + self.write_no_space
            + self.short_reads
            + self.short_writes
            + self.torn_writes
            + self.misdirected_writes
            + self.latencies
    }
}

/// A write that reached the live image but not (yet) the durable one.
#[derive(Debug)]
struct Pending {
    offset: u64,
    data: Vec<u8>,
}

/// A one-shot trigger: inject `fault` into call number `nth` (1-based) of `op`.
#[derive(Clone, Copy, Debug)]
struct Trigger {
    op: Op,
    nth: u64,
    fault: Fault,
}

#[derive(Debug)]
struct State {
    rng: ChaCha8Rng,
    config: FaultConfig,
    live: Vec<u8>,
    durable: Vec<u8>,
    pending: Vec<Pending>,
    triggers: Vec<Trigger>,
    read_dead: bool,
    write_dead: bool,
    sync_dead: bool,
    crashed: bool,
    counts: FaultCounts,
    trace: u64,
}

/// FNV-1a offset basis; the trace hash starts here.
const TRACE_INIT: u64 = 0xcbf2_9ce4_8422_2325;

impl State {
    /// Fills `out` from byte `start` (below the live image's end): from the live image (the page cache), or with
    /// `device` from what the device holds once the pending writes are written back, as an O_DIRECT read finds it
    /// (the kernel writes a range's dirty pages before it reads the device): the durable image (zeros past its
    /// end) with the pending writes over it in issue order, and never a write a failed sync dropped (cached and
    /// clean, never written).
    fn copy_out(&self, out: &mut [u8], start: usize, device: bool) {
        if !device {
            out.copy_from_slice(&self.live[start..start + out.len()]);
            return;
        }
        let end = start + out.len();
        out.fill(0);
        let durable_end = self.durable.len().min(end);
        if start < durable_end {
            out[..durable_end - start].copy_from_slice(&self.durable[start..durable_end]);
        }
        for w in &self.pending {
            let (from, to) = (w.offset as usize, w.offset as usize + w.data.len());
            let (lo, hi) = (from.max(start), to.min(end));
            if lo < hi {
                out[lo - start..hi - start].copy_from_slice(&w.data[lo - from..hi - from]);
            }
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        // 53 random bits as a float in [0, 1).
        let x = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        x < p
    }

    /// A uniform integer in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        // Bias is at most n / 2^64: irrelevant for test tooling.
        self.rng.next_u64() % n
    }

    fn trace(&mut self, words: &[u64]) {
        for w in words {
            for b in w.to_le_bytes() {
                self.trace ^= u64::from(b);
                self.trace = self.trace.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
    }

    /// The fault for this call: a matching trigger if any, else one drawn from the probabilities.
    fn decide(&mut self, op: Op, nth: u64) -> Option<Fault> {
        if let Some(i) = self.triggers.iter().position(|t| t.op == op && t.nth == nth) {
            return Some(self.triggers.swap_remove(i).fault);
        }
        let c = self.config.clone();
        let eio = match op {
            Op::Read => c.read_eio,
            Op::Write => c.write_eio,
            Op::Sync => c.sync_eio,
        };
        if self.chance(eio) {
            return Some(if c.eio_persistent {
                Fault::EioPersistent
            } else {
                Fault::Eio
            });
        }
        let others: &[(f64, Fault)] = match op {
            Op::Read => &[(c.short_read, Fault::Short)],
            Op::Write => &[
                (c.short_write, Fault::Short),
                (c.torn_write, Fault::Torn),
                (c.misdirected_write, Fault::Misdirected),
            ],
            Op::Sync => &[],
        };
        for &(p, f) in others {
            if self.chance(p) {
                return Some(f);
            }
        }
        if self.chance(c.latency) {
            return Some(Fault::Latency);
        }
        None
    }

    fn latency(&mut self) -> Duration {
        self.counts.latencies += 1;
        let max_ns = u64::try_from(self.config.latency_max.as_nanos()).unwrap_or(u64::MAX);
        if max_ns == 0 {
            Duration::ZERO
        } else {
            Duration::from_nanos(self.below(max_ns + 1))
        }
    }

    /// Applies `data` at `offset` to the live image and records it as pending.
    fn land(&mut self, offset: usize, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let end = offset + data.len();
        if self.live.len() < end {
            self.live.resize(end, 0);
        }
        self.live[offset..end].copy_from_slice(data);
        self.pending.push(Pending {
            offset: offset as u64,
            data: data.to_vec(),
        });
    }

    /// Number of sectors of a transfer of `len` bytes (a partial last sector counts).
    fn sectors(len: usize) -> usize {
        len.div_ceil(SECTOR_SIZE)
    }
}

/// A real EIO (raw OS error), as a failing device gives it.
fn eio() -> io::Error {
    io::Error::from_raw_os_error(libc::EIO)
}

fn crashed() -> io::Error {
    io::Error::other("faulty storage: crashed")
}

fn to_usize(offset: u64) -> io::Result<usize> {
    usize::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// What a write did, before it is translated for `write_at` or `submit`.
enum WriteOutcome {
    Done,
    Short(usize),
}

/// An in-memory storage with seeded fault injection and crash simulation. **Test tooling**; see the module docs.
///
/// Keep it in an `Arc` to hand one clone to the pool (`Arc<FaultyStorage>` implements [`Storage`]) and keep
/// another to inject faults, read the counters and [`crash`](FaultyStorage::crash).
#[derive(Debug)]
pub struct FaultyStorage {
    state: Mutex<State>,
    /// The record and the doublewrite area, for a storage made [`FaultyStorage::with_area`].
    beside: Option<Box<Beside>>,
}

/// A faulty data file's record and doublewrite area ([`FaultyStorage::with_area`]).
#[derive(Debug)]
struct Beside {
    record: MemoryRecord,
    area: FaultyArea,
}

/// The doublewrite area's storage, as the pool reads and writes it.
#[derive(Debug)]
struct FaultyArea(FaultyStorage);

impl RecordStore for FaultyArea {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        Storage::read_at(&self.0, buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        Storage::write_at(&self.0, buf, offset)
    }
    fn sync(&self) -> io::Result<()> {
        Storage::sync(&self.0)
    }
}

/// What a restarted process finds beside a [`FaultyStorage::with_area`] data file: its record and its doublewrite
/// area ([`FaultyStorage::area_images`]); empty for a new one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AreaImages {
    /// The file record's bytes.
    pub record: Vec<u8>,
    /// The area's bytes (after a crash: its durable image, the crash's survivors over it).
    pub area: Vec<u8>,
}

impl FaultyStorage {
    /// An empty storage whose fault decisions are drawn from `seed`.
    pub fn new(seed: u64, config: FaultConfig) -> FaultyStorage {
        FaultyStorage::from_image(seed, config, Vec::new())
    }

    /// A storage whose live and durable images both start as `image` (e.g. the image a crash produced).
    pub fn from_image(seed: u64, config: FaultConfig, image: Vec<u8>) -> FaultyStorage {
        FaultyStorage {
            beside: None,
            state: Mutex::new(State {
                rng: ChaCha8Rng::seed_from_u64(seed),
                config,
                live: image.clone(),
                durable: image,
                pending: Vec::new(),
                triggers: Vec::new(),
                read_dead: false,
                write_dead: false,
                sync_dead: false,
                crashed: false,
                counts: FaultCounts::default(),
                trace: TRACE_INIT,
            }),
        }
    }

    /// This storage with a file record and a doublewrite area beside it, holding `images` (empty for a new file;
    /// [`FaultyStorage::area_images`] after a crash). The area's storage takes no fault but the crash, which the
    /// data file's crash brings (its draws from `seed` mixed with a constant, not from this storage's
    /// generator: this storage's own faults and crash draw as without the area).
    pub fn with_area(mut self, seed: u64, images: AreaImages) -> FaultyStorage {
        let area = FaultyStorage::from_image(seed ^ 0x5eed_a4ea, FaultConfig::crash_only(), images.area);
        self.beside = Some(Box::new(Beside {
            record: MemoryRecord::holding(images.record),
            area: FaultyArea(area),
        }));
        self
    }

    /// The record's bytes and the area's (as reads see them: once crashed, what survived) of a storage made
    /// [`FaultyStorage::with_area`]: after [`FaultyStorage::crash`], what the restarted process finds beside the
    /// data file. `None` for a storage without them.
    pub fn area_images(&self) -> Option<AreaImages> {
        let beside = self.beside.as_ref()?;
        Some(AreaImages {
            record: beside.record.snapshot(),
            area: beside.area.0.live_image(),
        })
    }

    /// Replaces the fault probabilities (e.g. to switch faults on after a clean set-up phase).
    pub fn set_config(&self, config: FaultConfig) {
        self.state.lock().config = config;
    }

    /// The current fault probabilities.
    pub fn config(&self) -> FaultConfig {
        self.state.lock().config.clone()
    }

    /// Forces `fault` on call number `nth` (1-based, counted over the storage's life) of `op`. A call number that
    /// has already passed never fires.
    pub fn inject_nth(&self, op: Op, nth: u64, fault: Fault) {
        self.state.lock().triggers.push(Trigger { op, nth, fault });
    }

    /// Drops the faults forced by [`FaultyStorage::inject_nth`] and [`FaultyStorage::inject_next`] that have not
    /// fired yet (a test whose work ended before the forced call number came, and that now checks the result).
    pub fn clear_triggers(&self) {
        self.state.lock().triggers.clear();
    }

    /// Forces `fault` on the next call of `op`.
    pub fn inject_next(&self, op: Op, fault: Fault) {
        let mut st = self.state.lock();
        let nth = match op {
            Op::Read => st.counts.reads,
            Op::Write => st.counts.writes,
            Op::Sync => st.counts.syncs,
        } + 1;
        st.triggers.push(Trigger { op, nth, fault });
    }

    /// Ends persistent failures: reads, writes and syncs work again (the crash state is not undone).
    pub fn heal(&self) {
        let mut st = self.state.lock();
        st.read_dead = false;
        st.write_dead = false;
        st.sync_dead = false;
    }

    /// Faults injected and calls made so far.
    pub fn counts(&self) -> FaultCounts {
        self.state.lock().counts
    }

    /// A hash of every call, its arguments and the fault decided for it: equal for equal single-threaded runs.
    pub fn trace_hash(&self) -> u64 {
        self.state.lock().trace
    }

    /// A copy of what reads currently see.
    pub fn live_image(&self) -> Vec<u8> {
        self.state.lock().live.clone()
    }

    /// A copy of the durable image: what a crash that keeps no unsynced write would leave.
    pub fn durable_image(&self) -> Vec<u8> {
        self.state.lock().durable.clone()
    }

    /// Number of writes not yet made durable.
    pub fn pending_writes(&self) -> usize {
        self.state.lock().pending.len()
    }

    /// True once [`crash`](FaultyStorage::crash) has been called.
    pub fn is_crashed(&self) -> bool {
        self.state.lock().crashed
    }

    /// Simulates power loss: returns the image a restarted process finds, and fails every later call.
    ///
    /// The image is the durable image plus, in issue order, each sector of each pending write that survives
    /// (probability [`FaultConfig::crash_keep_unsynced`], drawn per sector), so unsynced pages may be lost, kept,
    /// torn at sector boundaries, or left at an older unsynced version. Calling it again returns the same image.
    pub fn crash(&self) -> Vec<u8> {
        self.crash_with(0.0, SECTOR_SIZE)
    }

    /// [`crash`](FaultyStorage::crash) during the device's write of the pending writes, on a device that garbles
    /// what it was writing when the power failed: each sector of each pending write is, with probability
    /// `garble`, left holding neither its old bytes nor its new ones (random bytes, which no checksum passes: a
    /// real disk's sector cut off mid-write reads back as an ECC error or garbage), and otherwise survives or is
    /// lost as at a crash. A write whose sync returned is never in flight, so only pending sectors are garbled.
    /// With `garble` 1.0 every sector written since the last sync is garbage: the worst a power loss at that
    /// moment can do, which a format that must survive one may only meet in sectors it can lose (a log's two
    /// header slots, one at a time: RELIABILITY.md, "Session 43 (2026-12-06, review43)").
    pub fn crash_garbling(&self, garble: f64) -> Vec<u8> {
        self.crash_with(garble, SECTOR_SIZE)
    }

    /// [`crash_garbling`](FaultyStorage::crash_garbling) of a device written through a page cache of
    /// [`BLOCK_SIZE`] pages, as a file is: write-back writes a dirty page whole, so a power loss while a write is in
    /// flight may garble any sector of the blocks it touches, not only the sectors it wrote. Each sector a pending
    /// write wrote is garbled, kept or lost as at `crash_garbling`; each other sector of a block it touches is
    /// garbled with probability `garble`, else holds its durable bytes (a block's sectors that another pending
    /// write wrote are that write's draws too). The device writes no block atomically (a 512e drive, many virtual
    /// disks): RELIABILITY.md, "Session 44 (2026-12-06, review44)". With `garble` 1.0 every block written since the
    /// last sync is garbage.
    pub fn crash_garbling_blocks(&self, garble: f64) -> Vec<u8> {
        self.crash_with(garble, BLOCK_SIZE)
    }

    /// `block`: the unit a pending write puts in flight ([`SECTOR_SIZE`]: the sectors it wrote; [`BLOCK_SIZE`]: the
    /// page-cache blocks it touched). The draws for a write's own sectors come first and in the same order in
    /// both, so a sector-granular crash draws exactly as before the block mode existed.
    fn crash_with(&self, garble: f64, block: usize) -> Vec<u8> {
        if let Some(beside) = &self.beside {
            beside.area.0.crash_with(garble, block);
        }
        let mut st = self.state.lock();
        if st.crashed {
            return st.durable.clone();
        }
        st.crashed = true;
        st.counts.crashes += 1;
        let keep = st.config.crash_keep_unsynced;
        let pending = std::mem::take(&mut st.pending);
        for w in &pending {
            let sectors = State::sectors(w.data.len());
            let mut kept = 0;
            for s in 0..sectors {
                let from = s * SECTOR_SIZE;
                let to = (from + SECTOR_SIZE).min(w.data.len());
                let at = w.offset as usize + from;
                let garbled = garble > 0.0 && st.chance(garble);
                if !garbled && !st.chance(keep) {
                    continue;
                }
                if st.durable.len() < at + (to - from) {
                    st.durable.resize(at + (to - from), 0);
                }
                if garbled {
                    st.counts.crash_sectors_garbled += 1;
                    let mut noise = vec![0u8; to - from];
                    st.rng.fill_bytes(&mut noise);
                    st.durable[at..at + (to - from)].copy_from_slice(&noise);
                    continue;
                }
                kept += 1;
                st.durable[at..at + (to - from)].copy_from_slice(&w.data[from..to]);
            }
            if block > SECTOR_SIZE && garble > 0.0 && !w.data.is_empty() {
                // The rest of each block the write touched: in flight with it, never new (not written here).
                let (from, to) = (w.offset as usize, w.offset as usize + w.data.len());
                let (first, last) = (from / block * block, to.next_multiple_of(block));
                for at in (first..last).step_by(SECTOR_SIZE) {
                    if (at >= from && at + SECTOR_SIZE <= to) || !st.chance(garble) {
                        continue;
                    }
                    if st.durable.len() < at + SECTOR_SIZE {
                        st.durable.resize(at + SECTOR_SIZE, 0);
                    }
                    st.counts.crash_sectors_garbled += 1;
                    let mut noise = [0u8; SECTOR_SIZE];
                    st.rng.fill_bytes(&mut noise);
                    st.durable[at..at + SECTOR_SIZE].copy_from_slice(&noise);
                }
            }
            if kept == sectors {
                st.counts.crash_writes_kept += 1;
            } else if kept == 0 {
                st.counts.crash_writes_lost += 1;
            } else {
                st.counts.crash_writes_torn += 1;
            }
        }
        let n = st.durable.len() as u64;
        st.trace(&[4, n]);
        st.live = st.durable.clone();
        st.durable.clone()
    }

    /// [`crash`](FaultyStorage::crash), with the image in a fresh [`MemoryStorage`] to reopen the pool on.
    pub fn crash_to_memory(&self) -> MemoryStorage {
        let data = self.crash();
        match self.area_images() {
            None => MemoryStorage::from_bytes(data),
            Some(beside) => MemoryStorage::from_parts(data, beside.record, beside.area),
        }
    }

    fn read_inner(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.read_from(buf, offset, false)
    }

    /// A read of the live image (the page cache), or with `device` of what the device holds
    /// ([`Storage::read_device_at`]); either draws a read's fault.
    fn read_from(&self, buf: &mut [u8], offset: u64, device: bool) -> io::Result<usize> {
        let mut st = self.state.lock();
        if st.crashed {
            return Err(crashed());
        }
        st.counts.reads += 1;
        let nth = st.counts.reads;
        let fault = if st.read_dead {
            Some(Fault::EioPersistent)
        } else {
            st.decide(Op::Read, nth)
        };
        st.trace(&[1, offset, buf.len() as u64, fault_code(fault)]);
        match fault {
            Some(Fault::Eio) | Some(Fault::EioPersistent) => {
                if fault == Some(Fault::EioPersistent) {
                    st.read_dead = true;
                }
                st.counts.read_eio += 1;
                return Err(eio());
            }
            Some(Fault::Latency) => {
                let d = st.latency();
                drop(st);
                std::thread::sleep(d);
                return self.read_plain(buf, offset, device);
            }
            _ => {}
        }
        let start = to_usize(offset)?;
        if start >= st.live.len() {
            return Ok(0);
        }
        let mut n = buf.len().min(st.live.len() - start);
        if fault == Some(Fault::Short) && n > 0 {
            // A sector multiple strictly below what was available (possibly 0).
            let sectors = State::sectors(n) as u64;
            n = (st.below(sectors) as usize * SECTOR_SIZE).min(n - 1);
            st.counts.short_reads += 1;
        }
        st.copy_out(&mut buf[..n], start, device);
        Ok(n)
    }

    /// A read with no fault decision (after an injected sleep).
    fn read_plain(&self, buf: &mut [u8], offset: u64, device: bool) -> io::Result<usize> {
        let st = self.state.lock();
        if st.crashed {
            return Err(crashed());
        }
        let start = to_usize(offset)?;
        if start >= st.live.len() {
            return Ok(0);
        }
        let n = buf.len().min(st.live.len() - start);
        st.copy_out(&mut buf[..n], start, device);
        Ok(n)
    }

    fn write_inner(&self, buf: &[u8], offset: u64) -> io::Result<WriteOutcome> {
        let mut st = self.state.lock();
        if st.crashed {
            return Err(crashed());
        }
        st.counts.writes += 1;
        let nth = st.counts.writes;
        let start = to_usize(offset)?;
        start
            .checked_add(buf.len())
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        let fault = if st.write_dead {
            Some(Fault::EioPersistent)
        } else {
            st.decide(Op::Write, nth)
        };
        st.trace(&[2, offset, buf.len() as u64, fault_code(fault)]);
        let sectors = State::sectors(buf.len());
        match fault {
            None => {
                st.land(start, buf);
                Ok(WriteOutcome::Done)
            }
            Some(Fault::Latency) => {
                let d = st.latency();
                drop(st);
                std::thread::sleep(d);
                let mut st = self.state.lock();
                if st.crashed {
                    return Err(crashed());
                }
                st.land(start, buf);
                Ok(WriteOutcome::Done)
            }
            Some(Fault::Eio) | Some(Fault::EioPersistent) => {
                if fault == Some(Fault::EioPersistent) {
                    st.write_dead = true;
                }
                st.counts.write_eio += 1;
                let landed = st.below(sectors as u64 + 1) as usize;
                let bytes = (landed * SECTOR_SIZE).min(buf.len());
                st.trace(&[bytes as u64]);
                st.land(start, &buf[..bytes]);
                Err(eio())
            }
            Some(Fault::NoSpace) => {
                st.counts.write_no_space += 1;
                let landed = st.below(sectors as u64 + 1) as usize;
                let bytes = (landed * SECTOR_SIZE).min(buf.len());
                st.trace(&[bytes as u64]);
                st.land(start, &buf[..bytes]);
                Err(io::Error::from_raw_os_error(libc::ENOSPC))
            }
            Some(Fault::Short) if sectors > 1 => {
                st.counts.short_writes += 1;
                let landed = 1 + st.below(sectors as u64 - 1) as usize;
                let bytes = landed * SECTOR_SIZE;
                st.trace(&[bytes as u64]);
                st.land(start, &buf[..bytes]);
                Ok(WriteOutcome::Short(bytes))
            }
            Some(Fault::Torn) if sectors > 1 => {
                st.counts.torn_writes += 1;
                // A random non-empty strict subset of the sectors.
                let mut mask: Vec<bool> = (0..sectors).map(|_| st.chance(0.5)).collect();
                if mask.iter().all(|&k| k) {
                    let i = st.below(sectors as u64) as usize;
                    mask[i] = false;
                } else if !mask.iter().any(|&k| k) {
                    let i = st.below(sectors as u64) as usize;
                    mask[i] = true;
                }
                for (s, keep) in mask.iter().enumerate() {
                    if *keep {
                        let from = s * SECTOR_SIZE;
                        let to = (from + SECTOR_SIZE).min(buf.len());
                        st.trace(&[s as u64]);
                        st.land(start + from, &buf[from..to]);
                    }
                }
                Ok(WriteOutcome::Done)
            }
            Some(Fault::Misdirected) if !buf.is_empty() => {
                st.counts.misdirected_writes += 1;
                // Another offset aligned like this one, within the file or one unit past it.
                let unit = buf.len();
                let units = (st.live.len().max(start + unit) / unit) as u64 + 1;
                let own = (start / unit) as u64;
                let mut k = st.below(units);
                if k == own {
                    k = (k + 1) % units;
                }
                let target = (k as usize) * unit + start % unit;
                st.trace(&[target as u64]);
                st.land(target, buf);
                Ok(WriteOutcome::Done)
            }
            // Faults with no meaning for this write (a one-sector torn write, ...): a normal write.
            Some(_) => {
                st.land(start, buf);
                Ok(WriteOutcome::Done)
            }
        }
    }
}

fn fault_code(f: Option<Fault>) -> u64 {
    match f {
        None => 0,
        Some(Fault::Eio) => 1,
        Some(Fault::EioPersistent) => 2,
        Some(Fault::Short) => 3,
        Some(Fault::Torn) => 4,
        Some(Fault::Misdirected) => 5,
        Some(Fault::Latency) => 6,
        Some(Fault::NoSpace) => 7,
    }
}

impl Storage for FaultyStorage {
    fn len(&self) -> io::Result<u64> {
        let st = self.state.lock();
        if st.crashed {
            return Err(crashed());
        }
        Ok(st.live.len() as u64)
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.read_inner(buf, offset)
    }

    /// What the device holds (module docs: the durable image, with the pending writes written back over it), not
    /// the live image: a write a failed sync dropped reads here as the bytes it was written over. A read's fault
    /// is drawn as for [`Storage::read_at`].
    fn read_device_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.read_from(buf, offset, true)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        match self.write_inner(buf, offset)? {
            WriteOutcome::Done => Ok(()),
            WriteOutcome::Short(n) => Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("injected short write ({n} of {} bytes)", buf.len()),
            )),
        }
    }

    fn sync(&self) -> io::Result<()> {
        let mut st = self.state.lock();
        if st.crashed {
            return Err(crashed());
        }
        st.counts.syncs += 1;
        let nth = st.counts.syncs;
        let fault = if st.sync_dead {
            Some(Fault::EioPersistent)
        } else {
            st.decide(Op::Sync, nth)
        };
        st.trace(&[3, fault_code(fault)]);
        match fault {
            Some(Fault::Eio) | Some(Fault::EioPersistent) => {
                if fault == Some(Fault::EioPersistent) {
                    st.sync_dead = true;
                }
                st.counts.sync_eio += 1;
                st.counts.writes_dropped_by_failed_sync += st.pending.len() as u64;
                st.pending.clear();
                return Err(eio());
            }
            Some(Fault::Latency) => {
                let d = st.latency();
                drop(st);
                std::thread::sleep(d);
                st = self.state.lock();
                if st.crashed {
                    return Err(crashed());
                }
            }
            _ => {}
        }
        let pending = std::mem::take(&mut st.pending);
        for w in pending {
            let at = w.offset as usize;
            if st.durable.len() < at + w.data.len() {
                st.durable.resize(at + w.data.len(), 0);
            }
            st.durable[at..at + w.data.len()].copy_from_slice(&w.data);
        }
        Ok(())
    }

    fn submit(&self, batch: &mut [IoRequest<'_>]) {
        for req in batch.iter_mut() {
            req.result = Some(match &mut req.kind {
                IoKind::Read(buf) => self.read_inner(buf, req.offset),
                IoKind::Write(buf) => match self.write_inner(buf, req.offset) {
                    Ok(WriteOutcome::Done) => Ok(buf.len()),
                    Ok(WriteOutcome::Short(n)) => Ok(n),
                    Err(e) => Err(e),
                },
            });
        }
    }

    fn info(&self) -> StorageInfo {
        StorageInfo {
            backend: "faulty",
            direct: false,
        }
    }

    fn record_store(&self) -> Option<&dyn RecordStore> {
        self.beside.as_ref().map(|b| &b.record as &dyn RecordStore)
    }

    fn doublewrite_store(&self) -> io::Result<Option<&dyn RecordStore>> {
        Ok(self.beside.as_ref().map(|b| &b.area as &dyn RecordStore))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(fill: u8) -> Vec<u8> {
        vec![fill; 4096]
    }

    #[test]
    fn clean_storage_reads_back_and_sync_makes_durable() {
        let s = FaultyStorage::new(1, FaultConfig::none());
        s.write_at(&page(1), 0).unwrap();
        s.write_at(&page(2), 4096).unwrap();
        let mut b = page(0);
        assert_eq!(s.read_at(&mut b, 4096).unwrap(), 4096);
        assert_eq!(b, page(2));
        assert!(s.durable_image().is_empty());
        s.sync().unwrap();
        assert_eq!(s.durable_image(), s.live_image());
        assert_eq!(s.pending_writes(), 0);
    }

    #[test]
    fn crash_loses_unsynced_writes_and_kills_the_storage() {
        let s = FaultyStorage::new(1, FaultConfig::none());
        s.write_at(&page(1), 0).unwrap();
        s.sync().unwrap();
        s.write_at(&page(2), 0).unwrap();
        s.write_at(&page(3), 4096).unwrap();
        let img = s.crash();
        assert_eq!(img, page(1));
        assert_eq!(s.crash(), img, "a second crash changes nothing");
        let mut b = page(0);
        assert!(s.read_at(&mut b, 0).is_err());
        assert!(s.write_at(&b, 0).is_err());
        assert!(s.sync().is_err());
        let c = s.counts();
        assert_eq!((c.crashes, c.crash_writes_lost), (1, 2));
    }

    #[test]
    fn crash_keeping_all_unsynced_writes_equals_live() {
        let mut cfg = FaultConfig::none();
        cfg.crash_keep_unsynced = 1.0;
        let s = FaultyStorage::new(1, cfg);
        s.write_at(&page(5), 0).unwrap();
        s.write_at(&page(6), 8192).unwrap();
        let live = s.live_image();
        assert_eq!(s.crash(), live);
        assert_eq!(s.counts().crash_writes_kept, 2);
    }

    #[test]
    fn crash_tears_pages_at_sector_boundaries() {
        let mut torn = 0;
        for seed in 0..64 {
            let s = FaultyStorage::new(seed, FaultConfig::crash_only());
            s.write_at(&page(1), 0).unwrap();
            s.sync().unwrap();
            s.write_at(&page(2), 0).unwrap();
            let img = s.crash();
            for sector in img.chunks(SECTOR_SIZE) {
                assert!(
                    sector.iter().all(|&b| b == 1) || sector.iter().all(|&b| b == 2),
                    "sectors are atomic"
                );
            }
            torn += s.counts().crash_writes_torn;
        }
        assert!(torn > 50, "8-sector pages at p=0.5 tear almost always");
    }

    /// A failed sync's write stays in the live image (Linux's page cache keeps the page, clean) and never reaches
    /// the device: `read_at` returns it, `read_device_at` the bytes it was written over, also after a later sync
    /// that succeeds (nothing writes a dropped write back). A pending write reads from the device as written back
    /// (an O_DIRECT read writes a range's dirty pages first); a synced one from both.
    #[test]
    fn a_write_a_failed_sync_dropped_reads_from_the_cache_and_not_from_the_device() {
        let s = FaultyStorage::new(1, FaultConfig::none());
        s.write_at(&page(1), 0).unwrap();
        s.write_at(&page(1), 4096).unwrap();
        s.sync().unwrap();
        s.write_at(&page(2), 0).unwrap();
        s.inject_next(Op::Sync, Fault::Eio);
        assert!(s.sync().is_err());
        s.write_at(&page(3), 4096).unwrap();
        let (mut cache, mut device) = (vec![0u8; 8192], vec![0u8; 8192]);
        assert_eq!(s.read_at(&mut cache, 0).unwrap(), 8192);
        assert_eq!(s.read_device_at(&mut device, 0).unwrap(), 8192);
        assert_eq!((cache[0], cache[4096]), (2, 3));
        assert_eq!(
            (device[0], device[4096]),
            (1, 3),
            "the dropped write is not on the device, the pending one is"
        );
        s.sync().unwrap();
        assert_eq!(s.read_device_at(&mut device[..10], 1).unwrap(), 10);
        assert_eq!(device[..10], [1; 10], "a later sync does not write the dropped write");
        assert_eq!(
            s.read_device_at(&mut device, 8000).unwrap(),
            192,
            "short only at the end"
        );
    }

    #[test]
    fn a_garbling_crash_garbles_only_sectors_written_since_the_last_sync() {
        let s = FaultyStorage::new(7, FaultConfig::none());
        s.write_at(&page(1), 0).unwrap();
        s.sync().unwrap();
        // Sectors 1 and 2 rewritten with the bytes they hold, sector 5 with new ones; the rest untouched.
        s.write_at(&[1u8; 2 * SECTOR_SIZE], SECTOR_SIZE as u64).unwrap();
        s.write_at(&[3u8; SECTOR_SIZE], 5 * SECTOR_SIZE as u64).unwrap();
        let img = s.crash_garbling(1.0);
        for (i, sector) in img.chunks(SECTOR_SIZE).enumerate() {
            let garbled = !sector.iter().all(|&b| b == 1) && !sector.iter().all(|&b| b == 3);
            assert_eq!(garbled, [1, 2, 5].contains(&i), "sector {i}");
        }
        assert_eq!(s.counts().crash_sectors_garbled, 3);
    }

    #[test]
    fn a_block_garbling_crash_garbles_every_sector_of_the_blocks_written_since_the_last_sync() {
        let s = FaultyStorage::new(7, FaultConfig::none());
        s.write_at(&[1u8; 4 * BLOCK_SIZE], 0).unwrap();
        s.sync().unwrap();
        // One sector of block 0 written (its neighbours in flight with it), a sector straddling blocks 2 and 3.
        s.write_at(&[3u8; SECTOR_SIZE], SECTOR_SIZE as u64).unwrap();
        s.write_at(&[3u8; SECTOR_SIZE], (3 * BLOCK_SIZE - 256) as u64).unwrap();
        let img = s.crash_garbling_blocks(1.0);
        assert_eq!(img.len(), 4 * BLOCK_SIZE);
        for (i, block) in img.chunks(BLOCK_SIZE).enumerate() {
            let whole = block
                .chunks(SECTOR_SIZE)
                .filter(|x| x.iter().all(|&b| b == 1 || b == 3))
                .count();
            assert_eq!(
                whole,
                if i == 1 { 8 } else { 0 },
                "block {i}: {whole} sectors not garbled"
            );
        }
        // Block 0: its written sector and 7 others; blocks 2 and 3: the write's sector, and every aligned sector.
        assert_eq!(s.counts().crash_sectors_garbled, 8 + 1 + 8 + 8);
        // At probability 0 nothing is garbled, and the blocks' other sectors keep their bytes.
        let s = FaultyStorage::new(7, FaultConfig::none());
        s.write_at(&[1u8; BLOCK_SIZE], 0).unwrap();
        s.sync().unwrap();
        s.write_at(&[3u8; SECTOR_SIZE], 0).unwrap();
        assert!(s.crash_garbling_blocks(0.0).iter().all(|&b| b == 1 || b == 3));
        assert_eq!(s.counts().crash_sectors_garbled, 0);
    }

    #[test]
    fn nth_write_fails_once() {
        let s = FaultyStorage::new(7, FaultConfig::none());
        s.inject_nth(Op::Write, 3, Fault::Eio);
        s.write_at(&page(1), 0).unwrap();
        s.write_at(&page(1), 4096).unwrap();
        assert!(s.write_at(&page(1), 8192).is_err());
        s.write_at(&page(1), 8192).unwrap();
        assert_eq!(s.counts().write_eio, 1);
    }

    #[test]
    fn persistent_eio_persists_until_healed() {
        let s = FaultyStorage::new(7, FaultConfig::none());
        s.inject_next(Op::Read, Fault::EioPersistent);
        let mut b = page(0);
        for _ in 0..3 {
            assert!(s.read_at(&mut b, 0).is_err());
        }
        s.heal();
        assert_eq!(s.read_at(&mut b, 0).unwrap(), 0);
        assert_eq!(s.counts().read_eio, 3);
    }

    #[test]
    fn failed_sync_drops_pending_writes_forever() {
        let s = FaultyStorage::new(7, FaultConfig::none());
        s.write_at(&page(9), 0).unwrap();
        s.inject_next(Op::Sync, Fault::Eio);
        assert!(s.sync().is_err());
        s.sync().unwrap();
        assert_eq!(s.live_image(), page(9), "the cache still shows the write");
        assert!(s.crash().is_empty(), "but it never became durable");
        assert_eq!(s.counts().writes_dropped_by_failed_sync, 1);
    }

    #[test]
    fn short_read_and_short_write() {
        let s = FaultyStorage::new(3, FaultConfig::none());
        s.write_at(&page(4), 0).unwrap();
        s.inject_next(Op::Read, Fault::Short);
        let mut b = page(0);
        let n = s.read_at(&mut b, 0).unwrap();
        assert!(n < 4096 && n.is_multiple_of(SECTOR_SIZE));
        s.inject_next(Op::Write, Fault::Short);
        let err = s.write_at(&page(5), 0).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WriteZero);
        s.inject_next(Op::Write, Fault::Short);
        let mut batch = [IoRequest::write(0, &b)];
        s.submit(&mut batch);
        let n = *batch[0].result.as_ref().unwrap().as_ref().unwrap();
        assert!(n > 0 && n < 4096);
        assert_eq!(s.counts().short_writes, 2);
    }

    #[test]
    fn torn_and_misdirected_writes_report_success() {
        let s = FaultyStorage::new(11, FaultConfig::none());
        for i in 0..4 {
            s.write_at(&page(1), i * 4096).unwrap();
        }
        s.inject_next(Op::Write, Fault::Torn);
        s.write_at(&page(2), 0).unwrap();
        let live = s.live_image();
        let new = live[..4096].chunks(SECTOR_SIZE).filter(|c| c[0] == 2).count();
        assert!(new > 0 && new < 8, "a strict, non-empty subset landed");
        s.inject_next(Op::Write, Fault::Misdirected);
        s.write_at(&page(3), 4096).unwrap();
        let live = s.live_image();
        assert_eq!(&live[4096..8192], &page(1)[..], "the target kept its bytes");
        assert_eq!(live.chunks(4096).filter(|p| p[0] == 3).count(), 1);
        let c = s.counts();
        assert_eq!((c.torn_writes, c.misdirected_writes), (1, 1));
    }

    #[test]
    fn same_seed_same_faults() {
        let run = |seed| {
            let mut cfg = FaultConfig::honest(0.2);
            cfg.torn_write = 0.1;
            cfg.misdirected_write = 0.1;
            let s = FaultyStorage::new(seed, cfg);
            let mut b = page(0);
            for i in 0..200u64 {
                let _ = s.write_at(&page(i as u8), (i % 7) * 4096);
                let _ = s.read_at(&mut b, (i % 5) * 4096);
                if i % 10 == 0 {
                    let _ = s.sync();
                }
            }
            (s.trace_hash(), s.counts(), s.crash())
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42).0, run(43).0);
    }
}
