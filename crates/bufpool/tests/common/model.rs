//! The whole-API concurrency model shared by `whole_api_model.rs` and `stress_16_threads.rs`: seeded per-thread
//! operation sequences run on real threads against one pool, an exact page model updated under the page's latch,
//! injected I/O failures and panicking callbacks, a watchdog, and the invariants checked after every schedule.
//! `whole_api_model.rs`'s `//!` header is the specification (design, sizes, how to replay a seed).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{mpsc, Arc, Mutex, Once};
use std::time::{Duration, Instant};

use bufpool::storage::{MemoryStorage, Storage, StorageInfo};
use bufpool::{
    BufferPool, Error, FileId, FileOptions, FrameIdx, IoBackend, Lsn, OpenMode, PageId, Policy, PolicyKind, Preset,
    SnapshotTracker, Wal, WriterConfig,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub const PAGE_SIZE: usize = 4096;
/// Pages a file grows to at most in a schedule (more than the frames: eviction writes back all the time).
const PAGES_PER_FILE_MAX: u32 = 24;
/// Files opened by path (`Op::PathFile`) in the schedule's directory; slot `k` opens under `PATH_ID + 2k` or
/// `PATH_ID + 2k + 1` (a reopen under another id).
const PATH_SLOTS: usize = 2;
const PATH_ID: u32 = 100;
/// The id every thread's `Op::PathRace` opens its own path under.
const RACE_ID: FileId = FileId(120);
/// Thread `me`'s scratch file (`SCRATCH_ID + me`): the eviction pressure a snapshot's check puts on the pool.
const SCRATCH_ID: u32 = 130;
/// Pages a file opened by path grows to at most.
const PATH_PAGES_MAX: usize = 6;
/// The size of the small tmpfs a run mounts for its full-device seeds (session 40): room for the files by path
/// (2 slots of `PATH_PAGES_MAX` pages, the race files and their sidecars) many times over, and filled in a few
/// hundred writes of a page.
const SMALL_FS_SIZE: &str = "1m";

// ---------------------------------------------------------------------------------------------------------------
// Injected panics: armed per thread, so only the model's workers (never the pool's own threads) see them.

/// Where a thread's armed panic fires.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PanicSite {
    StorageRead,
    StorageWrite,
    StorageSync,
    WalFlush,
    Veto,
    /// The model's policy object (`Builder::custom_policy`): `on_insert`, or `victim_for` after its inner policy
    /// chose (a panic there ends the policy: `ModelPolicy::dead`).
    PolicyInsert,
    PolicyVictim,
}

/// Where a thread's armed call back into the pool fires: the callback asks the pool for the very page the pool
/// holds for it, which the crate docs promise returns `Error::CallbackReentry` at once (R35-20), then reads a page
/// of another file (never `CallbackReentry` but from a batch's submit, R36-2, a miss from the veto, R36-21, or a
/// page another thread's callback holds, R37-1), then goes on with its own work.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReenterSite {
    /// `Storage::read_at` of a load reads the page it loads.
    StorageRead,
    /// `Storage::write_at` of a write run writes (exclusively) the first page of its run.
    StorageWrite,
    /// The eviction veto reads its candidate.
    Veto,
    /// `Policy::on_insert` reads the page just placed.
    PolicyInsert,
    /// `Policy::victim_for` reads the page of the frame it took.
    PolicyVictim,
}

impl ReenterSite {
    /// The names a `CallbackReentry` gives the callback that runs at this site.
    fn callbacks(self) -> &'static [&'static str] {
        match self {
            ReenterSite::StorageRead => &["Storage::read_at", "Storage::submit"],
            ReenterSite::StorageWrite => &["Storage::write_at"],
            ReenterSite::Veto => &["eviction veto"],
            ReenterSite::PolicyInsert => &["Policy::on_insert"],
            ReenterSite::PolicyVictim => &["Policy::victim_for", "Policy::victim"],
        }
    }
}

thread_local! {
    static ARMED: Cell<Option<PanicSite>> = const { Cell::new(None) };
    static REENTER: Cell<Option<ReenterSite>> = const { Cell::new(None) };
    /// The schedule's world, on the model's worker threads (for callbacks that call back into the pool).
    static CURRENT: RefCell<Option<Arc<World>>> = const { RefCell::new(None) };
}

/// Whether this thread armed a call back at `site` (one-shot: disarmed as it fires).
fn take_reenter(site: ReenterSite) -> bool {
    if REENTER.with(|a| a.get() == Some(site)) {
        REENTER.with(|a| a.set(None));
        return true;
    }
    false
}

/// The callback's call back into the pool for `page`, the page the pool holds for it (`exclusive`: a `write`,
/// for a write run that holds its pages shared): must return `CallbackReentry` naming `page`, at once. A page of a
/// failed file may be refused (`FileFailed`) by `write` before it waits. Then a read of the page of the same
/// number in the next file slot (never one the pool holds for this callback, which latches pages of one file):
/// any outcome a read may have but `CallbackReentry`, which is only for the callback's own pages.
fn reenter(site: ReenterSite, page: PageId, exclusive: bool) {
    let Some(w) = CURRENT.with(|c| c.borrow().clone()) else {
        return;
    };
    w.reentries.fetch_add(1, Relaxed);
    let r = if exclusive {
        w.pool.write(page).map(drop)
    } else {
        w.pool.read(page).map(drop)
    };
    match r {
        Err(Error::CallbackReentry { page: p, .. }) if p == page => {}
        Err(Error::FileFailed { .. }) if exclusive => {}
        r => w.violation(format!(
            "{site:?}: a call back for the page the pool holds for the callback ({page:?}) returned {r:?}, the docs \
             say CallbackReentry at once"
        )),
    }
    // A call back for another page can wait for ever through a guard (R37-O3: this callback waits for a page a
    // guard holds while the guard's thread waits for this callback's page; the crate docs: such calls are not
    // checked). The long mode reads one with `BUFPOOL_MODEL_REENTER_OTHER=1` (CI seed 9726 of session 37's run hung
    // so, in `Policy::on_insert` of a prewarm).
    if std::env::var_os("BUFPOOL_MODEL_REENTER_OTHER").is_none() {
        return;
    }
    let other = PageId::new(FileId((page.file().0 + 1) % w.model.files.len() as u32), page.page_no());
    match w.pool.read(other).map(drop) {
        // A batch (`read_many`, `prefetch`, `prewarm`) holds every page it loads for each of its submits, the
        // other files' too (R36-2), and for the callbacks of each reservation after the first (R36-3).
        Err(Error::CallbackReentry {
            callback: "Storage::submit",
            ..
        }) if site == ReenterSite::StorageRead => {}
        Err(Error::CallbackReentry {
            callback: "a batch's loads",
            ..
        }) => {}
        // A page whose frame another thread's callback holds: not waited for, the call back is refused naming this
        // thread's own callback (R37-1: the other callback may be waiting for this one's page).
        Err(Error::CallbackReentry { callback, .. }) if site.callbacks().contains(&callback) => {}
        // A miss from the veto, which runs inside a victim search (R36-21), or a read that would wait for a latch
        // another thread holds (R37-20: CI seed 129 hung so, with a batch holding its loads' frames); a hit is served.
        Err(Error::CallbackReentry {
            callback: "eviction veto",
            ..
        }) if site == ReenterSite::Veto => {}
        Err(e @ Error::CallbackReentry { .. }) => w.violation(format!(
            "{site:?}: a call back for another page ({other:?}) than the callback's ({page:?}) returned {e:?}"
        )),
        _ => {}
    }
}

/// The payload of every panic the model injects (the panic hook keeps them quiet).
pub struct InjectedPanic;

fn maybe_panic(site: PanicSite) {
    if ARMED.with(|a| a.get() == Some(site)) {
        ARMED.with(|a| a.set(None));
        std::panic::panic_any(InjectedPanic);
    }
}

/// Silences injected panics; every other panic is printed as usual.
pub fn quiet_injected_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<InjectedPanic>().is_none() {
                default(info);
            }
        }));
    });
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> Option<String> {
    if p.downcast_ref::<InjectedPanic>().is_some() {
        return None;
    }
    Some(
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "non-string panic".into()),
    )
}

// ---------------------------------------------------------------------------------------------------------------
// Storage, WAL and veto with failures and panics on demand

/// An in-memory storage whose next read, write or sync can be made to fail (one-shot, whichever thread comes
/// next), and that panics when the calling thread armed it. Failed writes land nothing. With `wal` (the log of
/// its file: its own, `FileOptions::wal`, or the builder's), every page it is asked to write is checked against
/// the WAL rule: its LSN must be at or below what that log last flushed (`ModelWal::flushed`).
#[derive(Default)]
pub struct ModelStorage {
    pub inner: MemoryStorage,
    pub fail_next_read: AtomicBool,
    pub fail_next_write: AtomicBool,
    pub fail_next_sync: AtomicBool,
    /// The file's id (for calls back into the pool) and its log.
    pub file: Option<(FileId, Arc<ModelWal>)>,
}

impl ModelStorage {
    /// An empty storage of file `id`, whose pages are written under `wal`.
    pub fn of(id: FileId, wal: Arc<ModelWal>) -> ModelStorage {
        ModelStorage {
            file: Some((id, wal)),
            ..ModelStorage::default()
        }
    }
}

fn eio() -> io::Error {
    io::Error::from_raw_os_error(5)
}

impl Storage for ModelStorage {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        maybe_panic(PanicSite::StorageRead);
        if let Some((id, _)) = &self.file {
            if take_reenter(ReenterSite::StorageRead) {
                reenter(
                    ReenterSite::StorageRead,
                    PageId::new(*id, (offset / PAGE_SIZE as u64) as u32),
                    false,
                );
            }
        }
        if self.fail_next_read.swap(false, SeqCst) {
            return Err(eio());
        }
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        maybe_panic(PanicSite::StorageWrite);
        if let Some((id, wal)) = &self.file {
            let first = (offset / PAGE_SIZE as u64) as u32;
            // The WAL rule (`Wal`'s docs, `FileOptions::wal`): the file's own log was flushed as far as every page
            // of the run needs before it is written.
            let flushed = wal.flushed.load(SeqCst);
            for (k, page) in buf.chunks(PAGE_SIZE).enumerate() {
                let lsn = u64::from_le_bytes(page[8..16].try_into().unwrap());
                if lsn > flushed {
                    wal.note(format!(
                        "WAL rule: page {}:{} written at LSN {lsn}, its file's log flushed to {flushed} only",
                        id.0,
                        first + k as u32
                    ));
                }
            }
            if take_reenter(ReenterSite::StorageWrite) {
                reenter(ReenterSite::StorageWrite, PageId::new(*id, first), true);
            }
        }
        if self.fail_next_write.swap(false, SeqCst) {
            return Err(eio());
        }
        self.inner.write_at(buf, offset)
    }
    fn sync(&self) -> io::Result<()> {
        maybe_panic(PanicSite::StorageSync);
        if self.fail_next_sync.swap(false, SeqCst) {
            return Err(eio());
        }
        Ok(())
    }
    fn info(&self) -> StorageInfo {
        StorageInfo {
            backend: "model",
            direct: false,
        }
    }
}

/// A WAL whose next flush can be made to fail, and that panics when the calling thread armed it. It records how
/// far it was flushed (for the storages' WAL-rule check) and what the storages found wrong.
#[derive(Default)]
pub struct ModelWal {
    pub fail_next: AtomicBool,
    /// The highest LSN a `flush_to` returned `Ok` for.
    pub flushed: AtomicU64,
    /// Violations found by the storages written under this log (collected after the schedule).
    pub violations: Mutex<Vec<String>>,
}

impl ModelWal {
    fn note(&self, what: String) {
        let mut v = self.violations.lock().unwrap_or_else(|e| e.into_inner());
        if v.len() < 10 {
            v.push(what);
        }
    }
}

impl Wal for ModelWal {
    fn flush_to(&self, lsn: Lsn) -> bufpool::Result<()> {
        maybe_panic(PanicSite::WalFlush);
        if self.fail_next.swap(false, SeqCst) {
            return Err(Error::Wal {
                lsn,
                reason: "injected".into(),
            });
        }
        self.flushed.fetch_max(lsn, SeqCst);
        Ok(())
    }
}

/// The model's policy object (`Builder::custom_policy`): a built-in policy inside, with armed panics and calls
/// back into the pool in `on_insert` and `victim_for`. A panic ends the policy (the crate docs: the pool never
/// calls it again, and every later miss that needs a victim returns `Panicked`): `dead` says so to the checks.
pub struct ModelPolicy {
    inner: Box<dyn Policy>,
    /// The key each frame was last inserted with (to name the page of a victim's frame).
    keys: Vec<AtomicU64>,
    pub dead: Arc<AtomicBool>,
}

impl ModelPolicy {
    fn new(kind: PolicyKind, frames: usize, dead: Arc<AtomicBool>) -> ModelPolicy {
        ModelPolicy {
            inner: kind.build(frames),
            keys: (0..frames).map(|_| AtomicU64::new(u64::MAX)).collect(),
            dead,
        }
    }

    fn maybe_panic(&self, site: PanicSite) {
        if ARMED.with(|a| a.get() == Some(site)) {
            self.dead.store(true, SeqCst);
            maybe_panic(site);
        }
    }
}

impl Policy for ModelPolicy {
    fn name(&self) -> &'static str {
        "model"
    }
    fn frames(&self) -> Option<usize> {
        self.inner.frames()
    }
    fn on_hit(&self, frame: FrameIdx) {
        self.inner.on_hit(frame)
    }
    fn on_insert(&self, frame: FrameIdx, key: u64) {
        self.keys[frame as usize].store(key, SeqCst);
        self.inner.on_insert(frame, key);
        self.maybe_panic(PanicSite::PolicyInsert);
        if take_reenter(ReenterSite::PolicyInsert) {
            reenter(ReenterSite::PolicyInsert, PageId::from_u64(key), false);
        }
    }
    fn on_remove(&self, frame: FrameIdx) {
        self.inner.on_remove(frame)
    }
    fn victim(&self, try_take: &mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx> {
        self.victim_for(u64::MAX, try_take)
    }
    fn victim_for(&self, key: u64, try_take: &mut dyn FnMut(FrameIdx) -> bool) -> Option<FrameIdx> {
        let v = if key == u64::MAX {
            self.inner.victim(try_take)
        } else {
            self.inner.victim_for(key, try_take)
        };
        if let Some(frame) = v {
            self.maybe_panic(PanicSite::PolicyVictim);
            let old = self.keys[frame as usize].load(SeqCst);
            if old != u64::MAX && take_reenter(ReenterSite::PolicyVictim) {
                reenter(ReenterSite::PolicyVictim, PageId::from_u64(old), false);
            }
        }
        v
    }
}

/// The eviction veto's state: page numbers whose bit is set in `mask` (page_no % 64) are protected.
#[derive(Default)]
pub struct VetoState {
    pub mask: AtomicU64,
}

// ---------------------------------------------------------------------------------------------------------------
// Page contents: self-describing (file, page, generation), the rest derived from them.

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub fn fill(buf: &mut [u8], page: PageId, gen: u64) {
    buf[0..8].copy_from_slice(&page.as_u64().to_le_bytes());
    buf[8..16].copy_from_slice(&gen.to_le_bytes());
    let x = splitmix(page.as_u64() ^ gen.rotate_left(17));
    for (i, chunk) in buf[16..].chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&(x ^ i as u64).to_le_bytes()[..chunk.len()]);
    }
}

/// What a page's user region holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Content {
    /// All zero: a new page (generation 0).
    Zero,
    /// Generation `gen` of the page it names.
    Version { page: PageId, gen: u64 },
    /// Not a whole version of any page.
    Torn,
}

pub fn decode(buf: &[u8]) -> Content {
    let page = PageId::from_u64(u64::from_le_bytes(buf[0..8].try_into().unwrap()));
    let gen = u64::from_le_bytes(buf[8..16].try_into().unwrap());
    if page.as_u64() == 0 && gen == 0 && buf.iter().all(|&b| b == 0) {
        return Content::Zero;
    }
    let x = splitmix(page.as_u64() ^ gen.rotate_left(17));
    let whole = buf[16..]
        .chunks(8)
        .enumerate()
        .all(|(i, c)| c == &(x ^ i as u64).to_le_bytes()[..c.len()]);
    if whole {
        Content::Version { page, gen }
    } else {
        Content::Torn
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The model

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum PageState {
    /// Allocated; holds exactly generation `gen` (0: the zero page).
    Allocated(u64),
    /// `free_page` is running: the content may already be gone (any version of this incarnation). `gen` is
    /// the content if the free fails.
    Freeing(u64),
    /// Freed: any version of this incarnation, or zero, or missing.
    Freed,
    /// Freed by a `free_page` the model saw return `Ok` in this incarnation with no other call on the number
    /// overlapping it: the number is on the file's free list until a `new_page` takes it (or a reopen forgets the
    /// list: then `Freed`). Content as `Freed`; what the docs promise for it (`BufferPool::free_page`, `write`,
    /// `read`, `Error::PageFreed`) is checked by [`World::listed`]'s callers: a `write` is refused with
    /// `PageFreed`, a read serves the last image or, with none, fails with `PageFreed` (never `ShortRead` or
    /// `OutOfRange`: the number is inside the file).
    Listed,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum FileState {
    Open,
    /// A `close_file`/`drop_file` of it is running.
    Closing,
    Closed,
}

struct FileModel {
    id: FileId,
    state: FileState,
    /// Bumped when a close/drop starts and when the file is reopened: an op that saw it change may see
    /// `FileNotOpen` and stale-free content.
    life: u64,
    /// Generations below this belong to an earlier incarnation (before a `drop_file`).
    inc_start: u64,
    storage: Arc<ModelStorage>,
    /// Per page: its state, a count of its changes, and a count of the frees begun on it (a page freed and
    /// allocated again during an op looks allocated at both ends of it, yet the op may have met it freed).
    pages: Vec<(PageState, u64, u64)>,
    /// How the file was last closed: `true` by `close_file` (its storage is kept and reopened).
    closed_clean: bool,
    /// Per page number: the `free_page` calls begun on it and those still running, in every incarnation (a
    /// drop and reopen does not reset them, unlike `pages`). See [`FreeCalls`].
    free_calls: Vec<FreeCalls>,
    /// The `new_page` calls on this file slot, over all its incarnations: one running may be taking a listed
    /// number off the free list, and a load of that page meanwhile is part of the reuse (it may take a write
    /// guard before `new_page` returns). Counted as [`FreeCalls`] are.
    new_pages: FreeCalls,
    /// The file's log: its own (`FileOptions::wal`, opened with `open_storage_with`) or the builder's.
    wal: Arc<ModelWal>,
    own_wal: bool,
    /// The generation counter when this open began: pages on storage with an LSN at or above it were written
    /// by this open (and carry its `file_identity`).
    opened_at: u64,
}

/// The `free_page` calls made on one page number of a file slot, over all its incarnations (and, in
/// `FileModel::new_pages`, the `new_page` calls made on a file slot).
///
/// Why the model needs them: `free_page` names its page by file id and looks the file up when it starts running,
/// not when the caller decided to call it. A call the model began in an earlier incarnation (its `Freeing` mark
/// went with that incarnation's `pages`) may look the id up after a drop and reopen and a `new_page` that gave
/// the number out again, and free the newer file's page: a call that overlaps the reopen may take effect after
/// it (M8 in RELIABILITY.md). While such a call runs, the newer page's frame may already be discarded (reads load
/// an older image from storage, or none: `ShortRead`), or its number be back in the free list (`PageFreed`),
/// although the model has the page allocated and no free begun in this incarnation. An op that overlapped a
/// `free_page` of its page number from any incarnation is judged as one that may have met the page freed.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
struct FreeCalls {
    begun: u64,
    running: u64,
}

impl FreeCalls {
    /// Whether a call counted here ran at some time between `before` (taken at an op's start) and `self`: one
    /// was running then, or one began since.
    fn overlapped_since(self, before: FreeCalls) -> bool {
        before.running > 0 || self.begun != before.begun
    }
}

impl FileModel {
    fn page(&mut self, n: u32) -> &mut (PageState, u64, u64) {
        let n = n as usize;
        if self.pages.len() <= n {
            self.pages.resize(n + 1, (PageState::Freed, 0, 0));
        }
        &mut self.pages[n]
    }

    /// Page `n`'s model without growing the file (a page past the end reads as freed).
    fn peek(&self, n: u32) -> (PageState, u64, u64) {
        self.pages.get(n as usize).copied().unwrap_or((PageState::Freed, 0, 0))
    }

    /// The `free_page` calls on page number `n` (see [`FreeCalls`]).
    fn free_calls(&self, n: u32) -> FreeCalls {
        self.free_calls.get(n as usize).copied().unwrap_or_default()
    }

    fn free_calls_mut(&mut self, n: u32) -> &mut FreeCalls {
        let n = n as usize;
        if self.free_calls.len() <= n {
            self.free_calls.resize(n + 1, FreeCalls::default());
        }
        &mut self.free_calls[n]
    }

    fn set(&mut self, n: u32, state: PageState) {
        let p = self.page(n);
        p.0 = state;
        p.1 += 1;
        if matches!(state, PageState::Freeing(_)) {
            p.2 += 1;
        }
    }

    /// Checks `bytes` of page `n`, read under a latch (so the model cannot change meanwhile).
    fn check_latched(&mut self, n: u32, bytes: &[u8]) -> Result<(), String> {
        let page = PageId::new(self.id, n);
        if self.state == FileState::Closed {
            return Err(format!(
                "{page:?}: latched while its file is closed ({:?})",
                decode(bytes)
            ));
        }
        let got = decode(bytes);
        let mut state = self.peek(n).0;
        if let (PageState::Allocated(g), true) = (state, self.free_calls(n).running > 0) {
            // A `free_page` of this number begun in an earlier incarnation may have discarded this page (its
            // call ends by marking the page `Freeing`, see `FreeCalls`); one of this incarnation marked it already.
            state = PageState::Freeing(g);
        }
        match (state, got) {
            (PageState::Allocated(0), Content::Zero) => Ok(()),
            (PageState::Allocated(g), Content::Version { page: p, gen }) if p == page && gen == g => Ok(()),
            (PageState::Allocated(g), got) => Err(format!("{page:?}: model says generation {g}, pool has {got:?}")),
            (_, Content::Zero) => Ok(()),
            (_, Content::Version { page: p, gen }) if p == page && gen >= self.inc_start => Ok(()),
            (s, got) => Err(format!(
                "{page:?} ({s:?}, incarnation from gen {}): pool has {got:?}",
                self.inc_start
            )),
        }
    }
}

/// What an op saw of a page's model before it ran, to judge content read without a latch.
#[derive(Clone, Copy)]
struct Snapshot {
    life: u64,
    state: FileState,
    page: (PageState, u64, u64),
    free_calls: FreeCalls,
    new_pages: FreeCalls,
}

pub struct Model {
    files: Vec<Mutex<FileModel>>,
    gen: AtomicU64,
}

impl Model {
    fn file(&self, f: usize) -> std::sync::MutexGuard<'_, FileModel> {
        self.files[f].lock().unwrap_or_else(|e| e.into_inner())
    }

    fn next_gen(&self) -> u64 {
        self.gen.fetch_add(1, SeqCst)
    }

    fn snapshot(&self, f: usize, n: u32) -> Snapshot {
        let m = self.file(f);
        Snapshot {
            life: m.life,
            state: m.state,
            page: m.peek(n),
            free_calls: m.free_calls(n),
            new_pages: m.new_pages,
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Configuration

/// Which behaviours a run exercises. The switches exist so CI can leave out the triggers of bugs that are open
/// (the `*_open` flags of `whole_api_model.rs`); the full model turns everything on.
#[derive(Clone, Copy, Debug)]
pub struct Features {
    /// `read_many` visitors read another page (of their batch or not) while holding the visited guard (F3).
    pub visitor_reads: bool,
    /// `read_many` visitors panic (F6).
    pub visitor_panics: bool,
    /// `read_optimistic` closures panic.
    pub optimistic_panics: bool,
    /// `Storage::read_at`, `write_at`, `sync` panic in a worker thread (U8).
    pub storage_panics: bool,
    /// `Wal::flush_to` panics in a worker thread (U8).
    pub wal_panics: bool,
    /// The eviction veto panics in a worker thread (U8).
    pub veto_panics: bool,
    /// `new_page` runs concurrently with `drop_file`/`close_file` of the same file (F1).
    pub new_page_during_close: bool,
    /// Injected write/sync failures (they fail files; closes then fail: F5).
    pub write_failures: bool,
    /// `new_page` while freed pages exist (reuse, the F2 fallback).
    pub reuse_freed: bool,
    /// Reads, writes and scans of page numbers not allocated in the model (freed, or just past the end, which a
    /// concurrent `new_page` may be allocating: U7).
    pub reads_past_end: bool,
    /// Callbacks (`Storage::read_at`/`write_at`, the veto, the model's policy object) call back into the pool for
    /// their own page and another (R35-20).
    pub reentry: bool,
    /// The model's policy object (`Builder::custom_policy`, a third of the seeds) panics in `on_insert` or
    /// `victim_for`.
    pub policy_panics: bool,
    /// (Session 39) MVCC snapshots (`Builder::snapshots`, `Op::Snapshot`) on half the seeds.
    pub snapshots: bool,
    /// (Session 39) Files opened by path (`Op::PathFile`, `Op::PathRace`).
    pub paths: bool,
    /// (Session 39) `BufferPool::close` ends a quarter of the schedules.
    pub pool_close: bool,
    /// (Session 40) The files by path per seed: an `IoBackend` (auto, pread, io_uring) and an `OpenMode` (direct
    /// or buffered, buffered, direct only), their directory on `/dev/shm`, on the disk, or on a small tmpfs the
    /// run mounts (where root may) whose device `Op::PathFile` fills and frees between steps (`ENOSPC` under the
    /// pool's writes and opens); and a second pool that opens each closed file by path and reads it whole before
    /// the first reopens it.
    pub path_io: bool,
}

impl Features {
    /// Switches off the comma-separated triggers named (field names).
    pub fn switch_off(&mut self, names: &str) {
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let flag = match name {
                "visitor_reads" => &mut self.visitor_reads,
                "visitor_panics" => &mut self.visitor_panics,
                "optimistic_panics" => &mut self.optimistic_panics,
                "storage_panics" => &mut self.storage_panics,
                "wal_panics" => &mut self.wal_panics,
                "veto_panics" => &mut self.veto_panics,
                "new_page_during_close" => &mut self.new_page_during_close,
                "write_failures" => &mut self.write_failures,
                "reuse_freed" => &mut self.reuse_freed,
                "reads_past_end" => &mut self.reads_past_end,
                "reentry" => &mut self.reentry,
                "policy_panics" => &mut self.policy_panics,
                "snapshots" => &mut self.snapshots,
                "paths" => &mut self.paths,
                "pool_close" => &mut self.pool_close,
                "path_io" => &mut self.path_io,
                other => panic!("unknown trigger {other}"),
            };
            *flag = false;
        }
    }

    pub fn all() -> Features {
        Features {
            visitor_reads: true,
            visitor_panics: true,
            optimistic_panics: true,
            storage_panics: true,
            wal_panics: true,
            veto_panics: true,
            new_page_during_close: true,
            write_failures: true,
            reuse_freed: true,
            reads_past_end: true,
            reentry: true,
            policy_panics: true,
            snapshots: true,
            paths: true,
            pool_close: true,
            path_io: true,
        }
    }
}

// Open bugs whose triggers CI leaves out; set to `false` as the fixes land (`review_findings.rs` has F1-F6,
// `model_findings.rs` the model's own findings M1-M7).
/// F1 (`new_page` during `drop_file`/`close_file` survives the sweep), and M7 (its fallback re-resolves the id).
pub const F1_OPEN: bool = false;
/// F2 (`new_page`'s fallback frees a dirty frame) and M1 (`new_page` returns a concurrent reader's load error).
pub const F2_M1_OPEN: bool = false;
/// F3 (read_many visitor reading a page of its own batch waits forever).
pub const F3_OPEN: bool = false;
/// F5 (a failed `close_file` leaves the file unreadable): triggered by injected write and sync failures.
pub const F5_OPEN: bool = false;
/// F6 (read_many visitor panic wedges the batch's pending pages).
pub const F6_OPEN: bool = false;
/// M2-M6: a panic in `Storage`, `Wal::flush_to` or the eviction veto leaves a frame latched or a sync lost.
pub const M2_M6_OPEN: bool = false;

impl Features {
    /// Everything but the triggers of the open bugs above: what CI runs.
    pub fn without_open_bugs() -> Features {
        let mut f = Features::all();
        f.new_page_during_close = !F1_OPEN;
        f.reuse_freed = !F2_M1_OPEN;
        f.reads_past_end = !F2_M1_OPEN;
        f.visitor_reads = !F3_OPEN;
        f.write_failures = !F5_OPEN;
        f.visitor_panics = !F6_OPEN;
        f.storage_panics = !M2_M6_OPEN;
        f.wal_panics = !M2_M6_OPEN;
        f.veto_panics = !M2_M6_OPEN;
        f
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub threads: usize,
    pub ops_per_thread: usize,
    pub files: usize,
    pub features: Features,
    /// A schedule that runs longer than this (workers or checks) is reported as a hang.
    pub watchdog: Duration,
}

/// What one schedule did, for the report.
#[derive(Default, Debug, Clone)]
pub struct Tally {
    pub ops: u64,
    pub ok: u64,
    pub errors: HashMap<&'static str, u64>,
    pub injected_panics: u64,
    pub injected_failures: u64,
    /// Calls back into the pool from callbacks, fired (armed: counted in `injected_failures`).
    pub reentries: u64,
    /// This thread's last `stats` (`Op::Diagnostics`), which no later snapshot may go below.
    pub last_stats: Option<bufpool::Stats>,
    /// MVCC snapshots opened (`Op::Snapshot`), and the pages they checked for residency when they ended.
    pub snapshots: u64,
    pub protected_checked: u64,
    /// Opens by path that succeeded (`Op::PathFile`, `Op::PathRace`), and pool `close`s at a schedule's end.
    pub path_opens: u64,
    pub closes: u64,
    /// (Session 40) Times the small tmpfs was filled (`Features::path_io`), and opens of a file by path in the
    /// second pool.
    pub fills: u64,
    pub other_pool_opens: u64,
}

impl Tally {
    pub fn merge(&mut self, o: &Tally) {
        self.ops += o.ops;
        self.ok += o.ok;
        self.injected_panics += o.injected_panics;
        self.injected_failures += o.injected_failures;
        self.reentries += o.reentries;
        self.snapshots += o.snapshots;
        self.protected_checked += o.protected_checked;
        self.path_opens += o.path_opens;
        self.closes += o.closes;
        self.fills += o.fills;
        self.other_pool_opens += o.other_pool_opens;
        for (k, v) in &o.errors {
            *self.errors.entry(k).or_default() += v;
        }
    }
}

fn error_name(e: &Error) -> &'static str {
    match e {
        Error::Io { .. } => "Io",
        Error::NoSpace { .. } => "NoSpace",
        Error::Open { .. } => "Open",
        Error::ShortRead { .. } => "ShortRead",
        Error::Corrupt { .. } => "Corrupt",
        Error::PoolExhausted { .. } => "PoolExhausted",
        Error::AllProtected { .. } => "AllProtected",
        Error::OutOfRange { .. } => "OutOfRange",
        Error::FileFailed { .. } => "FileFailed",
        Error::InvalidConfig(_) => "InvalidConfig",
        Error::FileNotOpen(_) => "FileNotOpen",
        Error::FileIdInUse(_) => "FileIdInUse",
        Error::FileAlreadyOpen { .. } => "FileAlreadyOpen",
        Error::Wal { .. } => "Wal",
        Error::PageLatched { .. } => "PageLatched",
        Error::InvalidAccess { .. } => "InvalidAccess",
        Error::Panicked { .. } => "Panicked",
        Error::PageFreed { .. } => "PageFreed",
        Error::CallbackReentry { .. } => "CallbackReentry",
        Error::CheckpointFailed { .. } => "CheckpointFailed",
        Error::FileLocked { .. } => "FileLocked",
        Error::OpenIo { .. } => "OpenIo",
        Error::VictimWrite { .. } => "VictimWrite",
        _ => "other",
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Allowed errors, one function per operation, from the docs (lib.rs, pool.rs, writer.rs, batch.rs, error.rs,
// RELIABILITY.md O2). `flux`: the file was being closed, dropped or reopened around the call.

/// A miss may fail because of its victim (RELIABILITY.md O2: the victim's write error; another file's victim's
/// wrapped in `VictimWrite`, R49-O11), because every frame
/// is latched, or because the eviction veto protects every unlatched one.
fn miss_error(e: &Error) -> bool {
    // Another file's victim (R49-O11): its write error, wrapped.
    if let Error::VictimWrite { source, .. } = e {
        return !matches!(**source, Error::VictimWrite { .. }) && miss_error(source);
    }
    matches!(
        e,
        Error::PoolExhausted { .. } | Error::Io { op: "write", .. } | Error::NoSpace { .. } | Error::Wal { .. }
    ) || matches!(e, Error::FileFailed { .. } | Error::AllProtected { .. })
        // An injected panic in the storage, the log or the veto, caught by the pool (RELIABILITY.md, panic safety).
        || matches!(e, Error::Panicked { .. })
}

/// `read`, `read_optimistic`, a scan ring's `read`, one page of `read_many`. `freed`: the page may not be on
/// storage (freed, or allocated past the storage's end and given back), so a short read or range error is fine.
pub fn read_allowed(e: &Error, flux: bool, freed: bool) -> bool {
    miss_error(e)
        || matches!(e, Error::Io { op: "read", .. })
        || (flux && matches!(e, Error::FileNotOpen(_) | Error::OutOfRange { .. }))
        || (freed
            && matches!(
                e,
                Error::ShortRead { .. } | Error::OutOfRange { .. } | Error::PageFreed { .. }
            ))
}

/// Whether the outcome `r` of a latching op (`exclusive`: `write`) on a page freed and still on its file's free
/// list ([`PageState::Listed`]) is what the docs promise (`BufferPool::free_page`, `read`, `write`,
/// `Error::PageFreed`): a `write` fails with `PageFreed` (never `Ok`), a read serves the last image (`Ok`) or,
/// with no image in the file, fails with `PageFreed`; neither meets `ShortRead` or `OutOfRange` (the number is
/// inside the file). Failures that come before the page is looked at (a miss's, an injected read error, the
/// file's failure) are judged by the op's own `*_allowed`. A `write` takes no frame for a listed page that is not
/// resident (R38-20), so it never fails for want of one (`PoolExhausted`, `AllProtected`).
pub fn refused_freed(r: Result<(), &Error>, exclusive: bool) -> bool {
    match r {
        Ok(()) => !exclusive,
        Err(Error::PoolExhausted { .. } | Error::AllProtected { .. }) => !exclusive,
        Err(e) => !matches!(e, Error::ShortRead { .. } | Error::OutOfRange { .. }),
    }
}

/// `write`: as a read, and the file's own failure.
pub fn write_allowed(e: &Error, flux: bool, freed: bool) -> bool {
    read_allowed(e, flux, freed) || matches!(e, Error::FileFailed { .. })
}

/// `new_page`: the file's failure, a miss's errors (it takes a frame like a miss). It reads nothing, so never a
/// read error.
pub fn new_page_allowed(e: &Error, flux: bool) -> bool {
    miss_error(e) || (flux && matches!(e, Error::FileNotOpen(_)))
}

/// `free_page`: a guard held for more than about a second; out of range only if the file changed.
pub fn free_page_allowed(e: &Error, flux: bool) -> bool {
    matches!(e, Error::PageLatched { .. })
        || (flux
            && matches!(
                e,
                Error::FileNotOpen(_) | Error::OutOfRange { .. } | Error::PageFreed { .. }
            ))
}

/// `prefetch`: a page out of range or of a file that is not open, or a miss's failure to take a frame (a full
/// or protected pool only ends the prefetch early, without an error).
pub fn prefetch_allowed(e: &Error, flux: bool, freed: bool) -> bool {
    (flux && matches!(e, Error::FileNotOpen(_)))
        || ((flux || freed) && matches!(e, Error::OutOfRange { .. }))
        || (miss_error(e) && !matches!(e, Error::PoolExhausted { .. } | Error::AllProtected { .. }))
}

/// Write-back errors: a failed write or sync (the file then refuses: `FileFailed`), the WAL; and, returned once
/// by the next flush/checkpoint/close, the background writer's.
fn write_back_error(e: &Error) -> bool {
    matches!(
        e,
        Error::Io {
            op: "write" | "sync",
            ..
        } | Error::NoSpace { .. }
            | Error::Wal { .. }
            | Error::FileFailed { .. }
            | Error::Panicked { .. }
    ) || matches!(e, Error::CheckpointFailed { failed } if failed.iter().all(|(_, e)| write_back_error(e)))
}

/// `flush`, `flush_file`: write-back errors; the file's absence if it changed.
pub fn flush_allowed(e: &Error, flux: bool) -> bool {
    write_back_error(e) || (flux && matches!(e, Error::FileNotOpen(_) | Error::OutOfRange { .. }))
}

/// `checkpoint`, `checkpoint_spread`: write-back errors only (a file closing meanwhile is not an error).
pub fn checkpoint_allowed(e: &Error) -> bool {
    write_back_error(e)
}

/// `flush_files`, `flush_files_spread`: what `flush_file` may return, for any of the files (a `CheckpointFailed`
/// naming them).
pub fn flush_files_allowed(e: &Error, flux: bool) -> bool {
    flush_allowed(e, flux)
        || matches!(e, Error::CheckpointFailed { failed } if failed.iter().all(|(_, e)| flush_allowed(e, flux)))
}

/// `close_file`: write-back errors, and a guard held for more than about a second.
pub fn close_allowed(e: &Error) -> bool {
    write_back_error(e) || matches!(e, Error::PageLatched { .. })
}

/// `close_all`: what `close_file` may return, for any file (a `CheckpointFailed` naming them).
pub fn close_all_allowed(e: &Error) -> bool {
    close_allowed(e)
        || matches!(e, Error::CheckpointFailed { failed } if failed.iter().all(|(_, e)| close_all_allowed(e)))
}

/// `drop_file`: a guard held for more than about a second.
pub fn drop_allowed(e: &Error) -> bool {
    matches!(e, Error::PageLatched { .. })
}

// ---------------------------------------------------------------------------------------------------------------
// Operations

#[derive(Clone, Copy, Debug)]
enum Op {
    NewPage,
    Write,
    Read,
    ReadOptimistic {
        panic: bool,
    },
    ReadMany {
        len: usize,
        panic_at: Option<usize>,
        follow: bool,
    },
    Prefetch {
        len: usize,
    },
    Scan {
        len: usize,
        ring: usize,
    },
    Flush,
    FlushFile,
    Checkpoint,
    CheckpointSpread {
        ms: u64,
    },
    FreePage,
    CloseReopen {
        reopen: bool,
    },
    DropReopen {
        reopen: bool,
    },
    /// `read`, `ReadGuard::try_upgrade`, a write through the upgraded guard, and maybe `WriteGuard::downgrade`.
    Upgrade {
        downgrade: bool,
    },
    /// `expect_lsn` of the LSN the page has on storage, `written_lsns`, `file_identity`.
    Lsns,
    /// `close_all` while the other threads go on.
    CloseAll,
    /// `save_resident` to the thread's own list, then `prewarm` from it (warm restart, in place).
    Prewarm,
    /// `flush_files` of this file and the next (or this one twice), paced over 0-2 ms by `flush_files_spread`
    /// when `spread_ms` is set (session 38: before, only `flush_file`'s one file went through it).
    FlushFiles {
        spread_ms: Option<u64>,
        twice: bool,
    },
    /// `checkpoint_report`: each file's outcome judged as a checkpoint's error, the report agreeing with itself.
    CheckpointReport,
    /// The operator's views, judged against themselves and the pool: `held_latches`, `resident_pages`, `stats`
    /// (no counter going back since this thread's last), `file_stats`, `file_pages`, and the cache hints
    /// `prefetch_lookup` and `prefetch_frame` of a page of the file.
    Diagnostics,
    /// (Session 39) `SnapshotTracker::begin` at the model's next LSN, held over this thread's next `hold` steps
    /// (other threads go on writing, evicting, checkpointing, closing and reopening), then checked and ended: every
    /// page of a model file written since it began, in a life of the file that did not change meanwhile, is still
    /// resident (`Builder::snapshots`' docs: never evicted while the snapshot is open).
    Snapshot {
        hold: usize,
    },
    /// (Session 39) A file opened by path (`open_file_as`) in the schedule's directory: opened (under its slot's id
    /// or another), pages made, written, read and compared, flushed, the same path opened again (`FileAlreadyOpen`
    /// naming the id), another path under its id (`FileIdInUse`, nothing created), closed (its bytes on disk
    /// checked) and reopened.
    PathFile {
        slot: usize,
    },
    /// (Session 39) `open_file_as` of the thread's own new path under one id every thread races for: one open at a
    /// time gets it (a page made, closed, the file removed); a refused one creates nothing (R39-10).
    PathRace,
}

/// One generated step: the op, the file slot and a page selector (resolved against the model at run time).
#[derive(Clone, Copy, Debug)]
struct Step {
    op: Op,
    file: usize,
    pick: u32,
    /// Injected before the op: a one-shot failure or an armed panic.
    inject: Option<Inject>,
    jitter: Jitter,
}

#[derive(Clone, Copy, Debug)]
enum Inject {
    FailRead,
    FailWrite,
    FailSync,
    FailWal,
    Panic(PanicSite),
    Reenter(ReenterSite),
}

#[derive(Clone, Copy, Debug)]
enum Jitter {
    None,
    Yield,
    SleepMicros(u64),
}

fn gen_step(rng: &mut StdRng, files: usize, f: &Features) -> Step {
    let op = match rng.random_range(0..122) {
        0..12 => Op::NewPage,
        12..30 => Op::Write,
        30..44 => Op::Read,
        44..52 => Op::ReadOptimistic {
            panic: f.optimistic_panics && rng.random_bool(0.1),
        },
        52..60 => Op::ReadMany {
            len: rng.random_range(1..8),
            panic_at: (f.visitor_panics && rng.random_bool(0.15)).then(|| rng.random_range(0..8)),
            follow: f.visitor_reads && rng.random_bool(0.5),
        },
        60..64 => Op::Prefetch {
            len: rng.random_range(1..8),
        },
        64..68 => Op::Scan {
            len: rng.random_range(2..16),
            ring: rng.random_range(4..8),
        },
        68..72 => Op::Flush,
        72..75 => Op::FlushFile,
        75..78 => Op::Checkpoint,
        78..80 => Op::CheckpointSpread {
            ms: rng.random_range(0..3),
        },
        80..90 => Op::FreePage,
        90..95 => Op::CloseReopen {
            reopen: rng.random_bool(0.85),
        },
        95..100 => Op::DropReopen {
            reopen: rng.random_bool(0.85),
        },
        100..104 => Op::Upgrade {
            downgrade: rng.random_bool(0.5),
        },
        104..107 => Op::Lsns,
        107..109 => Op::Prewarm,
        109..110 => Op::CloseAll,
        110..112 => Op::FlushFiles {
            spread_ms: rng.random_bool(0.5).then(|| rng.random_range(0..3)),
            twice: rng.random_bool(0.25),
        },
        112..114 => Op::CheckpointReport,
        114..116 => Op::Diagnostics,
        116..118 => Op::Snapshot {
            hold: rng.random_range(0..6),
        },
        118..121 if f.paths => Op::PathFile {
            slot: rng.random_range(0..PATH_SLOTS),
        },
        121 if f.paths => Op::PathRace,
        _ => Op::Diagnostics,
    };
    let mut sites = Vec::new();
    if f.storage_panics {
        sites.extend([PanicSite::StorageRead, PanicSite::StorageWrite, PanicSite::StorageSync]);
    }
    if f.wal_panics {
        sites.push(PanicSite::WalFlush);
    }
    if f.veto_panics {
        sites.push(PanicSite::Veto);
    }
    if f.policy_panics && rng.random_bool(0.2) {
        // Rarely: a panic ends the policy for the rest of the schedule.
        sites.extend([PanicSite::PolicyInsert, PanicSite::PolicyVictim]);
    }
    let reenter = [
        ReenterSite::StorageRead,
        ReenterSite::StorageWrite,
        ReenterSite::Veto,
        ReenterSite::PolicyInsert,
        ReenterSite::PolicyVictim,
    ];
    let inject = match rng.random_range(0..100) {
        0..3 => Some(Inject::FailRead),
        3..5 if f.write_failures => Some(Inject::FailWrite),
        5..7 if f.write_failures => Some(Inject::FailSync),
        7..10 => Some(Inject::FailWal),
        10..14 if !sites.is_empty() => Some(Inject::Panic(sites[rng.random_range(0..sites.len())])),
        14..20 if f.reentry => Some(Inject::Reenter(reenter[rng.random_range(0..reenter.len())])),
        _ => None,
    };
    let jitter = match rng.random_range(0..10) {
        0..6 => Jitter::None,
        6..9 => Jitter::Yield,
        _ => Jitter::SleepMicros(rng.random_range(0..300)),
    };
    Step {
        op,
        file: rng.random_range(0..files),
        pick: rng.random(),
        inject,
        jitter,
    }
}

/// Everything a worker shares.
struct World {
    pool: BufferPool,
    model: Model,
    features: Features,
    violations: Mutex<Vec<String>>,
    /// With `BUFPOOL_MODEL_HISTORY=N`: the last N steps and outcomes of every thread, in the order they were
    /// noted, printed with the first violation (to diagnose a failure; the shared lock changes the schedules).
    history: Option<(usize, Mutex<std::collections::VecDeque<String>>)>,
    /// What each worker is doing (for the hang report).
    doing: Vec<Mutex<String>>,
    /// Per file: `close_file`/`drop_file` (and `close_all`) hold it exclusively; `new_page` holds it shared unless
    /// `features.new_page_during_close`, and `expect_lsn` always does (`lsns`).
    lifecycle: Vec<parking_lot::RwLock<()>>,
    /// `close_file`/`drop_file`/reopens hold it shared, `close_all` exclusively: the files `close_all` closes are
    /// the model's open ones, none closing or reopening meanwhile (every other op goes on).
    gate: parking_lot::RwLock<()>,
    /// Every log of the schedule (the builder's and the files' own), for their violations.
    wals: Vec<Arc<ModelWal>>,
    /// Set when the model's policy object panicked: the pool never calls it again, so every miss that needs a
    /// victim fails with `Panicked` from then on (resident pages and free frames still serve).
    policy_dead: Arc<AtomicBool>,
    /// Calls back into the pool fired by callbacks.
    reentries: AtomicU64,
    /// The schedule's directory (resident lists, files opened by path).
    dir: tempfile::TempDir,
    /// `Builder::snapshots`' tracker, on half the seeds (`Op::Snapshot` does nothing without).
    snapshots: Option<SnapshotTracker>,
    /// The files opened by path (`Op::PathFile`); each slot's lock is taken after `gate` (shared).
    paths: Vec<Mutex<PathSlot>>,
    /// On a quarter of the seeds the schedule ends with `BufferPool::close` (`close_pool`) instead of the final
    /// drops; `close_fail`: the quiesce armed a failed sync of file 0 for it.
    close_at_end: bool,
    close_fail: AtomicBool,
    /// (Session 40, `Features::path_io`) Where the files by path live and how they are opened.
    path_io: PathIo,
    /// The directory of the files by path (`paths`, `Op::PathRace`'s): `dir` itself, or one on the disk or on the
    /// run's small tmpfs.
    path_dir: PathDir,
    /// On the small tmpfs: the file that fills it (`Op::PathFile` fills and empties it; emptied by truncation,
    /// never removed, so no forked child's copy of its descriptor keeps the space), whether it is full now, and
    /// a count of its fills and emptyings (an op that saw the count change may have met a full device).
    ballast: Option<Mutex<std::fs::File>>,
    full: AtomicBool,
    fill_epoch: AtomicU64,
    /// The second pool, which opens a closed file by path and reads it whole (`other_pool_visit`).
    other: Option<BufferPool>,
}

/// How a schedule's files by path are opened (`Features::path_io`): chosen per seed from a generator of its own,
/// so the schedule's steps are the same with the feature on or off.
#[derive(Clone, Copy, Debug)]
struct PathIo {
    backend: IoBackend,
    mode: OpenMode,
    /// "shm", "disk" or "small tmpfs".
    place: &'static str,
}

impl PathIo {
    fn choose(seed: u64, on: bool) -> PathIo {
        let mut rng = StdRng::seed_from_u64(splitmix(seed ^ 0x5e55_1040_0000_0000));
        if !on {
            return PathIo {
                backend: IoBackend::default(),
                mode: OpenMode::default(),
                place: "shm",
            };
        }
        let uring = bufpool::storage::uring_available();
        let backend = match rng.random_range(0..3) {
            0 => IoBackend::Auto,
            1 => IoBackend::Pread,
            _ if uring => IoBackend::Uring,
            _ => IoBackend::Pread,
        };
        let mode = [OpenMode::DirectOrBuffered, OpenMode::Buffered, OpenMode::DirectOnly][rng.random_range(0..3)];
        let place = match rng.random_range(0..20) {
            0..8 => "shm",
            8..11 => "disk",
            _ => "small tmpfs",
        };
        PathIo { backend, mode, place }
    }
}

/// The directory of a schedule's files by path.
enum PathDir {
    /// The schedule's own directory (`World::dir`).
    Shared,
    Own(tempfile::TempDir),
}

thread_local! {
    /// The small tmpfs `run_many` mounted for this thread's schedules (`Features::path_io`), if it could.
    static SMALL_FS: RefCell<Option<std::path::PathBuf>> = const { RefCell::new(None) };
}

/// A file opened by path (`Op::PathFile`): only the op holding the slot's lock changes its pages, so its model is
/// exact without latches. Its pages name the slot's first id (`PATH_ID + 2k`) whatever id it is open under.
pub struct PathSlot {
    path: std::path::PathBuf,
    /// The id it is open under, if it is open.
    open: Option<FileId>,
    /// Per page: the generation it holds.
    pages: Vec<u64>,
}

impl World {
    fn path_dir(&self) -> &std::path::Path {
        match &self.path_dir {
            PathDir::Shared => self.dir.path(),
            PathDir::Own(d) => d.path(),
        }
    }

    /// Whether the device of the files by path may have been full during an op that began when the fill count
    /// was `epoch` (full now, or filled or emptied since, or the op began during a fill or an emptying: the count
    /// is odd from a toggle's start to its end, and an emptying marks the device not full before its end, so an
    /// op that met the ballast and then saw `full` false and the count unchanged was flagged: stress seeds
    /// 1052138 and 1053849, session 41).
    fn maybe_full(&self, epoch: u64) -> bool {
        epoch & 1 == 1 || self.full.load(SeqCst) || self.fill_epoch.load(SeqCst) != epoch
    }

    /// Fills the small tmpfs if it is empty, empties it if it is full (`Op::PathFile`, one step in four).
    fn toggle_fill(&self, t: &mut Tally) {
        use std::io::{Seek, Write};
        let Some(ballast) = &self.ballast else { return };
        let mut f = ballast.lock().unwrap_or_else(|e| e.into_inner());
        self.fill_epoch.fetch_add(1, SeqCst);
        if self.full.load(SeqCst) {
            if let Err(e) = f.set_len(0).and_then(|()| f.rewind().map(|_| ())) {
                self.violation(format!("emptying the small tmpfs: {e}"));
            }
            self.full.store(false, SeqCst);
            self.note(|| "small tmpfs emptied".into());
        } else {
            self.full.store(true, SeqCst);
            loop {
                match f.write_all(&[7u8; 4096]) {
                    Ok(()) => {}
                    Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                    Err(e) => {
                        self.violation(format!("filling the small tmpfs: {e}"));
                        break;
                    }
                }
            }
            t.fills += 1;
            self.note(|| "small tmpfs filled".into());
        }
        self.fill_epoch.fetch_add(1, SeqCst);
    }

    fn violation(&self, what: String) {
        let mut v = self.violations.lock().unwrap_or_else(|e| e.into_inner());
        if v.is_empty() {
            if let Some((_, h)) = &self.history {
                let h = h.lock().unwrap_or_else(|e| e.into_inner());
                v.push(format!(
                    "history before the first violation (oldest first):\n    {}",
                    Vec::from(h.clone()).join("\n    ")
                ));
            }
        }
        if v.len() < 20 {
            v.push(what);
        }
    }

    /// Notes a step or an outcome in the history, if it is kept.
    fn note(&self, what: impl FnOnce() -> String) {
        if let Some((n, h)) = &self.history {
            let line = format!("t{} {}", WORKER.with(|c| c.get()), what());
            let mut h = h.lock().unwrap_or_else(|e| e.into_inner());
            if h.len() == *n {
                h.pop_front();
            }
            h.push_back(line);
        }
    }

    fn fid(&self, f: usize) -> FileId {
        FileId(f as u32)
    }

    /// A page of file `f` picked by `pick`: an allocated one if there is any (else any known page number, or
    /// `None` without `reads_past_end`).
    fn pick_page(&self, f: usize, pick: u32) -> Option<PageId> {
        let m = self.model.file(f);
        let allocated: Vec<u32> = (0..m.pages.len() as u32)
            .filter(|&n| matches!(m.pages[n as usize].0, PageState::Allocated(_)))
            .collect();
        let n = if !allocated.is_empty() && (!pick.is_multiple_of(8) || !self.features.reads_past_end) {
            allocated[pick as usize / 8 % allocated.len()]
        } else if self.features.reads_past_end {
            pick / 8 % (m.pages.len() as u32 + 1)
        } else {
            return None;
        };
        Some(PageId::new(m.id, n))
    }

    /// Whether an op may touch page `n` of file `f` (without `reads_past_end`: only pages allocated now).
    fn may_touch(&self, f: usize, n: u32) -> bool {
        self.features.reads_past_end || matches!(self.model.file(f).peek(n).0, PageState::Allocated(_))
    }

    fn flux(&self, f: usize, before: &Snapshot) -> bool {
        let m = self.model.file(f);
        before.state != FileState::Open || m.state != FileState::Open || m.life != before.life
    }

    /// Whether the page may have been met freed: not allocated before or after the op, or freed (and allocated
    /// again) while it ran, or its file dropped or closed and reopened meanwhile (a drop resets the per-page
    /// counts, and the op may have met the page freed in the file's earlier incarnation), or a `free_page` of its
    /// number begun in an earlier incarnation ran meanwhile (it may free this one's page: [`FreeCalls`]).
    fn freed(&self, page: PageId, before: &Snapshot) -> bool {
        let m = self.model.file(page.file().0 as usize);
        let now = m.peek(page.page_no());
        !matches!(before.page.0, PageState::Allocated(_))
            || !matches!(now.0, PageState::Allocated(_))
            || now.2 != before.page.2
            || m.life != before.life
            || m.free_calls(page.page_no()).overlapped_since(before.free_calls)
    }

    /// Whether the page was freed and on the free list for the whole op ([`PageState::Listed`] before and after,
    /// unchanged), with its file open and not reopened, no `free_page` of its number running (from any
    /// incarnation), and no `new_page` of its file running (it may be taking this number: its load of the page is
    /// part of the reuse). Then the docs of `free_page`, `write`, `read` and `Error::PageFreed` say what every op
    /// must do: see [`refused_freed`].
    fn listed(&self, page: PageId, before: &Snapshot) -> bool {
        let m = self.model.file(page.file().0 as usize);
        let now = m.peek(page.page_no());
        before.page.0 == PageState::Listed
            && now.0 == PageState::Listed
            && now.1 == before.page.1
            && before.state == FileState::Open
            && m.state == FileState::Open
            && m.life == before.life
            && !m.free_calls(page.page_no()).overlapped_since(before.free_calls)
            && !m.new_pages.overlapped_since(before.new_pages)
    }

    /// Judges an op on page `page` that was [`World::listed`] throughout (`listed`): a violation if it did what the
    /// docs say a freed page refuses (see [`refused_freed`]). `exclusive`: a `write`.
    fn judge_freed<T>(&self, page: PageId, listed: bool, exclusive: bool, r: &bufpool::Result<T>, what: &str) {
        if listed && !refused_freed(r.as_ref().map(drop), exclusive) {
            self.violation(format!(
                "{what}({page:?}) of a page freed and on the free list (no new_page running): {}, the docs say {}",
                match r {
                    Ok(_) => "succeeded".to_string(),
                    Err(e) => format!("{e:?}"),
                },
                if exclusive {
                    "PageFreed"
                } else {
                    "its last image or PageFreed"
                }
            ));
        }
    }

    /// Checks a page's bytes read under a latch held by the caller.
    fn check_latched(&self, page: PageId, bytes: &[u8], what: &str) {
        let mut m = self.model.file(page.file().0 as usize);
        if let Err(e) = m.check_latched(page.page_no(), bytes) {
            drop(m);
            self.violation(format!("{what}: {e}"));
        }
    }

    fn judge<T>(&self, t: &mut Tally, r: &bufpool::Result<T>, allowed: impl FnOnce(&Error) -> bool, what: &str) {
        self.note(|| format!("{what} -> {:?}", r.as_ref().err()));
        t.ops += 1;
        match r {
            Ok(_) => t.ok += 1,
            Err(e) => {
                *t.errors.entry(error_name(e)).or_default() += 1;
                if !allowed(e) {
                    self.violation(format!("{what}: error not allowed by the docs: {e:?}"));
                }
            }
        }
    }
}

/// A page for an op, or skip the op.
macro_rules! pick {
    ($e:expr) => {
        match $e {
            Some(p) => p,
            None => return,
        }
    };
}

fn run_step(w: &World, t: &mut Tally, s: &Step) {
    let f = s.file;
    let fid = w.fid(f);
    let pool = &w.pool;
    match s.op {
        Op::NewPage => {
            let before = w.model.snapshot(f, 0);
            {
                let m = w.model.file(f);
                let freed_state = |p: &(PageState, u64, u64)| matches!(p.0, PageState::Freed | PageState::Listed);
                let allocated = m.pages.iter().filter(|p| !freed_state(p)).count();
                let freed = m.pages.iter().any(freed_state);
                if allocated as u32 >= PAGES_PER_FILE_MAX || (!w.features.reuse_freed && freed) {
                    return;
                }
            }
            let _excluded = (!w.features.new_page_during_close).then(|| w.lifecycle[f].read());
            // The lowest listed number when the call starts (its change count, the `new_page` calls then).
            let lowest_listed = {
                let mut m = w.model.file(f);
                m.new_pages.begun += 1;
                m.new_pages.running += 1;
                let lowest = (0..m.pages.len() as u32).find(|&n| m.peek(n).0 == PageState::Listed);
                lowest.map(|n| (n, m.peek(n).1, m.free_calls(n), m.new_pages, m.life))
            };
            let r = pool.new_page(fid).map(|mut g| {
                let page = g.page_id();
                let mut m = w.model.file(f);
                if g.iter().any(|&b| b != 0) {
                    drop(m);
                    w.violation(format!("new_page {page:?}: not zeroed ({:?})", decode(&g)));
                    m = w.model.file(f);
                }
                if m.state == FileState::Closed {
                    drop(m);
                    w.violation(format!("new_page {page:?}: returned a page of a closed file"));
                    return;
                }
                // The number must not be the user's already: allocated in the model, with no `free_page` of it
                // running (one begun in an earlier incarnation may have freed it unseen: `FreeCalls`; one that
                // returned marked it `Freeing`).
                if let (PageState::Allocated(g0), 0) = (m.peek(page.page_no()).0, m.free_calls(page.page_no()).running)
                {
                    drop(m);
                    w.violation(format!(
                        "new_page {page:?}: gave out a page allocated in the model (gen {g0})"
                    ));
                    m = w.model.file(f);
                }
                // `new_page` takes the lowest freed number: one listed for the whole call (no other `new_page` of the
                // file, no `free_page` of it, no reopen meanwhile) is taken, or a lower one. (The calling thread holds
                // no guard, so no number is skipped for its stale copy.)
                if let Some((n, changes, frees, calls, life)) = lowest_listed {
                    let stable = m.peek(n).0 == PageState::Listed
                        && m.peek(n).1 == changes
                        && !m.free_calls(n).overlapped_since(frees)
                        && calls.running == 1
                        && m.new_pages.begun == calls.begun
                        && m.life == life;
                    if stable && page.page_no() > n {
                        drop(m);
                        w.violation(format!(
                            "new_page gave out {page:?} while page {n} was freed and listed throughout (the docs: the \
                             lowest freed number)"
                        ));
                        m = w.model.file(f);
                    }
                }
                let gen = w.model.next_gen();
                fill(&mut g, page, gen);
                g.set_lsn(gen);
                m.set(page.page_no(), PageState::Allocated(gen));
                w.note(|| format!("new_page -> {page:?} gen {gen}"));
            });
            w.model.file(f).new_pages.running -= 1;
            let flux = w.flux(f, &before);
            w.judge(t, &r, |e| new_page_allowed(e, flux), &format!("new_page({fid:?})"));
        }
        Op::Write => {
            let page = pick!(w.pick_page(f, s.pick));
            let before = w.model.snapshot(f, page.page_no());
            // Session 47: an eighth of the writes take a clean guard (`write_clean`) and put back the bytes they
            // found (`WriteGuard::restore`: the page must read as before, and come back as before from a crash
            // however the pool wrote it), an eighth take one and drop it unchanged, a quarter change the page
            // through one; the rest, `write`.
            let r = match (s.pick >> 29) % 8 {
                0 => pool.write_clean(page).map(|mut g| write_restored(w, &mut g)),
                1 => pool.write_clean(page).map(|g| w.check_latched(page, &g, "write_clean")),
                2 | 3 => pool
                    .write_clean(page)
                    .map(|mut g| write_through(w, &mut g, "write_clean")),
                _ => pool.write(page).map(|mut g| write_through(w, &mut g, "write")),
            };
            let (flux, freed) = (w.flux(f, &before), w.freed(page, &before));
            w.judge_freed(page, w.listed(page, &before), true, &r, "write");
            w.judge(t, &r, |e| write_allowed(e, flux, freed), &format!("write({page:?})"));
        }
        Op::Read => {
            let page = pick!(w.pick_page(f, s.pick));
            let before = w.model.snapshot(f, page.page_no());
            let r = pool.read(page).map(|g| w.check_latched(page, &g, "read"));
            let (flux, freed) = (w.flux(f, &before), w.freed(page, &before));
            w.judge_freed(page, w.listed(page, &before), false, &r, "read");
            w.judge(t, &r, |e| read_allowed(e, flux, freed), &format!("read({page:?})"));
        }
        Op::ReadOptimistic { panic } => {
            let page = pick!(w.pick_page(f, s.pick));
            let before = w.model.snapshot(f, page.page_no());
            let r = catch_unwind(AssertUnwindSafe(|| {
                pool.read_optimistic(page, |v| {
                    if panic {
                        std::panic::panic_any(InjectedPanic);
                    }
                    v.to_vec()
                })
            }));
            let r = match r {
                Ok(r) => r,
                Err(p) => {
                    t.injected_panics += 1;
                    if let Some(msg) = panic_text(&*p) {
                        w.violation(format!("read_optimistic({page:?}) panicked: {msg}"));
                    }
                    return;
                }
            };
            if let Ok(bytes) = &r {
                check_unlatched(w, page, &before, bytes, "read_optimistic");
            }
            let (flux, freed) = (w.flux(f, &before), w.freed(page, &before));
            w.judge_freed(page, w.listed(page, &before), false, &r, "read_optimistic");
            w.judge(
                t,
                &r,
                |e| read_allowed(e, flux, freed),
                &format!("read_optimistic({page:?})"),
            );
        }
        Op::ReadMany { len, panic_at, follow } => {
            let pages: Vec<PageId> = (0..len as u32)
                .map(|k| w.pick_page(f, s.pick.wrapping_add(k.wrapping_mul(8 * 7919))))
                .collect::<Option<_>>()
                .unwrap_or_default();
            if pages.is_empty() {
                return;
            }
            let befores: Vec<Snapshot> = pages.iter().map(|p| w.model.snapshot(f, p.page_no())).collect();
            let mut results: Vec<Option<bufpool::Result<()>>> = vec![None; len];
            let mut visits = 0;
            let r = catch_unwind(AssertUnwindSafe(|| {
                pool.read_many(&pages, |i, g| {
                    visits += 1;
                    let g = g.inspect(|g| w.check_latched(pages[i], g, "read_many"));
                    if follow && g.is_ok() {
                        // Follow a "pointer": another page of the batch, while holding this one.
                        let other = pages[(i + 1) % pages.len()];
                        let ob = w.model.snapshot(f, other.page_no());
                        let r2 = pool
                            .read(other)
                            .map(|g2| w.check_latched(other, &g2, "read_many visitor"));
                        let (flux, freed) = (w.flux(f, &ob), w.freed(other, &ob));
                        w.judge_freed(other, w.listed(other, &ob), false, &r2, "read_many visitor read");
                        if let Err(e) = &r2 {
                            if !read_allowed(e, flux, freed) {
                                w.violation(format!("read_many visitor read({other:?}): error not allowed: {e:?}"));
                            }
                        }
                    }
                    if panic_at == Some(visits - 1) {
                        std::panic::panic_any(InjectedPanic);
                    }
                    results[i] = Some(g.map(drop));
                })
            }));
            if let Err(p) = r {
                t.injected_panics += 1;
                if let Some(msg) = panic_text(&*p) {
                    w.violation(format!("read_many panicked: {msg}"));
                }
                return;
            }
            for (i, r) in results.into_iter().enumerate() {
                let Some(r) = r else {
                    w.violation(format!("read_many: page {i} ({:?}) never visited", pages[i]));
                    continue;
                };
                let (flux, freed) = (w.flux(f, &befores[i]), w.freed(pages[i], &befores[i]));
                w.judge_freed(pages[i], w.listed(pages[i], &befores[i]), false, &r, "read_many");
                w.judge(
                    t,
                    &r,
                    |e| read_allowed(e, flux, freed),
                    &format!("read_many({:?})", pages[i]),
                );
            }
        }
        Op::Prefetch { len } => {
            let first = pick!(w.pick_page(f, s.pick));
            let before = w.model.snapshot(f, first.page_no());
            let pages: Vec<PageId> = (0..len as u32)
                .map(|k| PageId::new(fid, first.page_no() + k))
                .filter(|p| w.may_touch(f, p.page_no()))
                .collect();
            // Pages past the model's end may be asked for: out of range is fine then (a page allocated, or freed
            // and listed, is inside the file unless it was reopened meanwhile: flux).
            let past_end = {
                let m = w.model.file(f);
                pages
                    .iter()
                    .any(|p| !matches!(m.peek(p.page_no()).0, PageState::Allocated(_) | PageState::Listed))
            };
            let r = pool.prefetch(&pages);
            let flux = w.flux(f, &before);
            w.judge(
                t,
                &r,
                |e| prefetch_allowed(e, flux, past_end),
                &format!("prefetch({first:?}+{len})"),
            );
        }
        Op::Scan { len, ring } => {
            let mut ring = pool.scan_ring(ring);
            let first = pick!(w.pick_page(f, s.pick)).page_no();
            for n in first..first + len as u32 {
                if !w.may_touch(f, n) {
                    continue;
                }
                let page = PageId::new(fid, n);
                let before = w.model.snapshot(f, n);
                let r = ring.read(page).map(|g| w.check_latched(page, &g, "scan"));
                let (flux, freed) = (w.flux(f, &before), w.freed(page, &before));
                w.judge_freed(page, w.listed(page, &before), false, &r, "scan");
                if matches!(r, Err(Error::OutOfRange { .. })) {
                    break;
                }
                w.judge(t, &r, |e| read_allowed(e, flux, freed), &format!("scan({page:?})"));
            }
        }
        Op::Flush => {
            let page = pick!(w.pick_page(f, s.pick));
            // A page not allocated in the model (past the end, or being created by another thread) may be out of
            // range. Judged from the snapshot itself: a drop and reopen between a separate look and the snapshot
            // would leave an old incarnation's "allocated" beside the new incarnation's life.
            let before = w.model.snapshot(f, page.page_no());
            let past_end = !matches!(before.page.0, PageState::Allocated(_) | PageState::Listed);
            let r = pool.flush(page);
            let flux = w.flux(f, &before) || past_end;
            w.judge(t, &r, |e| flush_allowed(e, flux), &format!("flush({page:?})"));
        }
        Op::FlushFile => {
            let before = w.model.snapshot(f, 0);
            let r = pool.flush_file(fid);
            let flux = w.flux(f, &before);
            w.judge(t, &r, |e| flush_allowed(e, flux), &format!("flush_file({fid:?})"));
        }
        Op::Checkpoint => {
            let r = pool.checkpoint();
            w.judge(t, &r, checkpoint_allowed, "checkpoint");
        }
        Op::CheckpointSpread { ms } => {
            let r = pool.checkpoint_spread(Duration::from_millis(ms));
            w.judge(t, &r, checkpoint_allowed, "checkpoint_spread");
        }
        Op::FreePage => {
            let page = pick!(w.pick_page(f, s.pick));
            let n = page.page_no();
            // Before marking the page: a close or drop and reopen right after the mark is flux too.
            let before = w.model.snapshot(f, n);
            let mine = {
                let mut m = w.model.file(f);
                match m.page(n).0 {
                    PageState::Allocated(g) => m.set(n, PageState::Freeing(g)),
                    _ => return,
                }
                let calls = m.free_calls_mut(n);
                calls.begun += 1;
                calls.running += 1;
                *calls
            };
            let r = pool.free_page(page);
            let overlapped = {
                let mut m = w.model.file(f);
                let relived = m.life != before.life;
                let calls = m.free_calls_mut(n);
                calls.running -= 1;
                // Another call on this number ran with ours: one of an earlier incarnation may have freed this
                // page before ours got to it (`FreeCalls`).
                let overlapped = mine.running > 1 || calls.begun != mine.begun;
                match m.page(n).0 {
                    // Our own mark (a `Freeing` met after a reopen is another call's, which settles it).
                    PageState::Freeing(g) if !relived => {
                        let next = if r.is_ok() && !overlapped {
                            // Ours freed it, alone: the number is on the free list now (until a `new_page`).
                            PageState::Listed
                        } else if r.is_ok() || (overlapped && matches!(r, Err(Error::PageFreed { .. }))) {
                            // `PageFreed`: the number was in this file's free list, so the page is freed.
                            PageState::Freed
                        } else if overlapped {
                            // Ours failed, the other call may have freed the page or not.
                            PageState::Freeing(g)
                        } else {
                            PageState::Allocated(g)
                        };
                        m.set(n, next);
                    }
                    // The file was dropped or closed and reopened while this ran (the mark went with its earlier
                    // incarnation), and the page number was allocated again: `free_page` names a page by file id,
                    // so it may have freed the new incarnation's page or the old one's. Or a call of an earlier
                    // incarnation freed the page while ours ran and `new_page` gave the number out again (over
                    // our mark) before ours put it in the free list: ours then freed the new page. Which one the
                    // model cannot tell: the page may be gone (as during a `free_page`), or not.
                    PageState::Allocated(g) if r.is_ok() && (relived || overlapped) => m.set(n, PageState::Freeing(g)),
                    _ => {}
                }
                overlapped
            };
            let flux = w.flux(f, &before) || overlapped;
            w.judge(t, &r, |e| free_page_allowed(e, flux), &format!("free_page({page:?})"));
        }
        Op::CloseReopen { reopen } | Op::DropReopen { reopen } => {
            let close = matches!(s.op, Op::CloseReopen { .. });
            lifecycle(w, t, f, close, reopen);
        }
        Op::Upgrade { downgrade } => {
            let page = pick!(w.pick_page(f, s.pick));
            let before = w.model.snapshot(f, page.page_no());
            let mut upgraded = false;
            let r = pool.read(page).map(|g| {
                w.check_latched(page, &g, "read before try_upgrade");
                match g.try_upgrade() {
                    // `try_upgrade`'s docs: what the shared guard read is still the page (no writer came in
                    // between), and the guard writes as `write`'s does.
                    Ok(mut g) => {
                        upgraded = true;
                        write_through(w, &mut g, "try_upgrade");
                        if downgrade {
                            // `downgrade`: no writer in between, so the page is still what this thread wrote.
                            let g = g.downgrade();
                            w.check_latched(page, &g, "downgrade");
                        }
                    }
                    // Refused: the guard comes back unchanged, still a shared latch on the page.
                    Err(g) => w.check_latched(page, &g, "try_upgrade refused"),
                }
            });
            let (flux, freed) = (w.flux(f, &before), w.freed(page, &before));
            let listed = w.listed(page, &before);
            if listed && upgraded {
                // `free_page`'s docs: a freed page takes no write guard until `new_page` reuses its number.
                w.violation(format!(
                    "try_upgrade({page:?}) of a page freed and on the free list (no new_page running) gave a write \
                     guard; the docs: a write of a freed page fails with PageFreed, and no copy of it takes write \
                     guards afterwards"
                ));
            }
            w.judge_freed(page, listed, false, &r, "read before try_upgrade");
            w.judge(t, &r, |e| read_allowed(e, flux, freed), &format!("upgrade({page:?})"));
        }
        Op::Lsns => lsns(w, t, f, s.pick),
        Op::CloseAll => close_all(w, t),
        Op::FlushFiles { spread_ms, twice } => {
            let g = if twice { f } else { (f + 1) % w.model.files.len() };
            let (before_f, before_g) = (w.model.snapshot(f, 0), w.model.snapshot(g, 0));
            let files = [fid, w.fid(g)];
            let r = match spread_ms {
                Some(ms) => pool.flush_files_spread(&files, Duration::from_millis(ms)),
                None => pool.flush_files(&files),
            };
            let flux = w.flux(f, &before_f) || w.flux(g, &before_g);
            w.judge(
                t,
                &r,
                |e| flush_files_allowed(e, flux),
                &format!("flush_files({files:?})"),
            );
        }
        Op::CheckpointReport => {
            let report = pool.checkpoint_report();
            for o in &report.files {
                if let Err(e) = &o.result {
                    if !checkpoint_allowed(e) {
                        w.violation(format!(
                            "checkpoint_report: {:?}'s outcome not allowed by the docs: {e:?}",
                            o.file
                        ));
                    }
                }
            }
            let (durable, failed) = (report.durable().count(), report.failed().count());
            if durable + failed != report.files.len() || report.is_ok() != (failed == 0) {
                w.violation(format!(
                    "checkpoint_report disagrees with itself: {durable} durable, {failed} failed, is_ok {}: {report:?}",
                    report.is_ok()
                ));
            }
            let r = report.into_result();
            w.judge(t, &r, checkpoint_allowed, "checkpoint_report");
        }
        Op::Diagnostics => diagnostics(w, t, f, s.pick),
        Op::Snapshot { hold } => begin_snapshot(w, t, hold),
        Op::PathFile { slot } => path_file(w, t, slot, s.pick),
        Op::PathRace => path_race(w, t),
        Op::Prewarm => {
            // `save_resident` names the resident pages; `prewarm` of that list accounts for each page it names
            // (read, resident already, or skipped) and fails only for a list that is not one. The pages it loads
            // are judged by every later latched read.
            let path = w.dir.path().join(format!("resident-{}", WORKER.with(|c| c.get())));
            let saved = pool.save_resident(&path);
            w.judge(t, &saved, |_| false, "save_resident");
            let Ok(named) = saved else { return };
            let r = pool.prewarm(&path);
            if let Ok(p) = &r {
                if p.listed != named || p.loaded + p.already_resident + p.skipped != p.listed {
                    w.violation(format!("prewarm of a list of {named} pages: {p:?}"));
                }
            }
            w.judge(t, &r, |_| false, "prewarm");
        }
    }
}

/// A snapshot this thread holds (`Op::Snapshot`), checked and ended when `left` more steps have run.
struct OpenSnapshot {
    snap: bufpool::Snapshot,
    /// The model's generation once `begin` had returned: every page written at this generation or later carries an
    /// LSN the snapshot protects, set after the snapshot was visible to every eviction.
    after: u64,
    /// Each model file's `life` when it began (`u64::MAX` for a file not open then): a file closed, dropped or
    /// reopened since, or being closed then, may have let its pages go (a close's sweep is no eviction).
    lives: Vec<u64>,
    left: usize,
}

thread_local! {
    static SNAP: RefCell<Option<OpenSnapshot>> = const { RefCell::new(None) };
}

/// `Op::Snapshot`: begins a snapshot at the model's next LSN (generations are the pages' LSNs), held for `hold`
/// more steps of this thread. `oldest` and `open_snapshots` must agree with it at once.
fn begin_snapshot(w: &World, t: &mut Tally, hold: usize) {
    let Some(tracker) = &w.snapshots else { return };
    if SNAP.with(|s| s.borrow().is_some()) {
        return;
    }
    let lsn = w.model.gen.load(SeqCst);
    let snap = tracker.begin(lsn);
    let after = w.model.gen.load(SeqCst);
    // A file not open when the snapshot began is left out of its check (`u64::MAX`: no life matches it): a close
    // or drop already sweeping it may discard pages written meanwhile, and a close that then fails puts the file
    // back to `Open` in the same life (stress seed 2102779: a page made during a failed close's sweep).
    let lives = (0..w.model.files.len())
        .map(|f| {
            let m = w.model.file(f);
            if m.state == FileState::Open {
                m.life
            } else {
                u64::MAX
            }
        })
        .collect();
    match tracker.oldest() {
        Some(oldest) if oldest <= lsn && tracker.open_snapshots() >= 1 => {}
        oldest => w.violation(format!(
            "SnapshotTracker: a snapshot open at {lsn}, yet oldest() is {oldest:?}, {} open",
            tracker.open_snapshots()
        )),
    }
    w.note(|| format!("snapshot begun at {lsn} (gen {after})"));
    t.snapshots += 1;
    SNAP.with(|s| {
        *s.borrow_mut() = Some(OpenSnapshot {
            snap,
            after,
            lives,
            left: hold,
        })
    });
}

/// After each step of this thread (and with `now` at its end): counts down its snapshot's steps, and when they are
/// done checks that every page of a model file written since it began is resident, then ends it.
fn tick_snapshot(w: &World, t: &mut Tally, now: bool) {
    let ended = SNAP.with(|s| {
        let mut s = s.borrow_mut();
        match s.as_mut() {
            Some(o) if o.left > 0 && !now => {
                o.left -= 1;
                None
            }
            _ => s.take(),
        }
    });
    let Some(o) = ended else { return };
    check_protected(w, t, &o);
    w.note(|| format!("snapshot at {} ended", o.snap.lsn()));
    drop(o.snap);
}

/// `Builder::snapshots`' docs: while a snapshot is open, a page whose LSN is at or above its LSN is never evicted.
/// The pages the model says were written since `o` began (generation `o.after` or later) in this open of their
/// file, with the file open in the life the snapshot began in, and no `free_page` of their number begun or
/// running meanwhile, both before and after a scan of `resident_pages`, must be in that scan (a close's or drop's
/// sweep, a free and a failed file's dropped frames let pages go without an eviction: those are left out).
fn check_protected(w: &World, t: &mut Tally, o: &OpenSnapshot) {
    let wanted = || -> Vec<(PageId, u64, u64, FreeCalls)> {
        let mut v = Vec::new();
        for (f, &life) in o.lives.iter().enumerate() {
            let m = w.model.file(f);
            if m.state != FileState::Open || m.life != life {
                continue;
            }
            for n in 0..m.pages.len() as u32 {
                let (state, _, frees) = m.peek(n);
                let calls = m.free_calls(n);
                match state {
                    PageState::Allocated(g) if g >= o.after.max(m.opened_at) && calls.running == 0 => {
                        v.push((PageId::new(m.id, n), g, frees, calls))
                    }
                    _ => {}
                }
            }
        }
        v
    };
    let before = wanted();
    if before.is_empty() {
        return;
    }
    // Pressure first: as many new pages of a scratch file as the pool has frames, so every page not protected (nor
    // latched) is a candidate for eviction while the snapshot is open (without it the check saw too few evictions
    // to fail with the protection taken out of the pool). The snapshot's pages are resident from their write on,
    // so a scan after the pressure tells whether one was evicted.
    pressure(w, t);
    let before = wanted();
    let resident: std::collections::HashSet<PageId> = w.pool.resident_pages().iter().map(|p| p.page).collect();
    let after = wanted();
    for (page, gen, frees, calls) in before {
        let stable = after
            .iter()
            .any(|&(p, _, fr, c)| p == page && fr == frees && c.begun == calls.begun);
        let failed = w.pool.file_stats(page.file()).map_or(true, |s| s.failed);
        if !stable || failed {
            continue;
        }
        t.protected_checked += 1;
        if !resident.contains(&page) {
            w.violation(format!(
                "snapshot at LSN {} (generation {} when begin returned): {page:?}, written at generation {gen} \
                 since, its file open throughout, is not resident: evicted under an open snapshot",
                o.snap.lsn(),
                o.after
            ));
        }
    }
}

/// Eviction pressure (a snapshot's check): this thread's scratch file takes a new page per frame of the pool
/// (fewer if a miss fails: every frame protected, latched or its victim's write refused), then is dropped. The
/// gate is held shared, so no `close_all` closes it meanwhile.
fn pressure(w: &World, t: &mut Tally) {
    let _gate = w.gate.read_recursive();
    let id = FileId(SCRATCH_ID + WORKER.with(|c| c.get()) as u32);
    if w.pool.open_storage_as(id, MemoryStorage::new()).is_err() {
        return;
    }
    for _ in 0..w.pool.frames() {
        let r = w.pool.new_page(id);
        let failed = r.is_err();
        w.judge(t, &r.map(drop), |e| new_page_allowed(e, false), "new_page(scratch)");
        if failed {
            break;
        }
    }
    let r = w.pool.drop_file(id);
    w.judge(t, &r, drop_allowed, "drop_file(scratch)");
}

/// What page `n` of a file opened by path holds by the model (`pages[n]`, named by slot `k`'s first id).
fn path_content(k: usize, n: u32, gen: u64) -> Content {
    Content::Version {
        page: PageId::new(FileId(PATH_ID + 2 * k as u32), n),
        gen,
    }
}

/// Reads page `n` of path slot `k`, open under `id`, and compares it with the model.
fn check_path_page(w: &World, t: &mut Tally, slot: &PathSlot, k: usize, id: FileId, n: u32, what: &str) {
    check_path_page_in(&w.pool, w, t, slot, k, id, n, what)
}

/// [`check_path_page`] in `pool` (the schedule's, or the second pool).
#[allow(clippy::too_many_arguments)]
fn check_path_page_in(
    pool: &BufferPool,
    w: &World,
    t: &mut Tally,
    slot: &PathSlot,
    k: usize,
    id: FileId,
    n: u32,
    what: &str,
) {
    let page = PageId::new(id, n);
    let r = pool.read(page).map(|g| {
        let got = decode(&g);
        let want = path_content(k, n, slot.pages[n as usize]);
        if got != want {
            w.violation(format!(
                "{what}: {page:?} of path slot {k} holds {got:?}, model {want:?}"
            ));
        }
    });
    w.judge(
        t,
        &r,
        |e| read_allowed(e, false, false),
        &format!("{what} read({page:?})"),
    );
}

/// The data file of path slot `k`, closed: every page the model holds is in it (`close_file`, `close_all` and
/// `close` write and sync every page before they return `Ok`). Returns what differs.
fn path_disk_errors(slot: &PathSlot, k: usize, what: &str) -> Vec<String> {
    let bytes = match std::fs::read(&slot.path) {
        Ok(b) => b,
        Err(e) => return vec![format!("{what}: reading path slot {k}'s data file: {e}")],
    };
    let mut errors = Vec::new();
    for (n, &gen) in slot.pages.iter().enumerate() {
        let at = n * PAGE_SIZE;
        let got = bytes.get(at + bufpool::PAGE_HEADER_SIZE..at + PAGE_SIZE).map(decode);
        let want = path_content(k, n as u32, gen);
        if got != Some(want) {
            errors.push(format!(
                "{what}: path slot {k} closed Ok, but page {n} on disk is {got:?}, model {want:?}"
            ));
        }
    }
    errors
}

/// `Op::PathFile`: one step on path slot `k` (see `Op::PathFile`). Holds the gate shared (a `close_all` closes files
/// by path too, and checks them) and the slot's lock.
fn path_file(w: &World, t: &mut Tally, k: usize, pick: u32) {
    let pool = &w.pool;
    // Session 40: one step in four on a small tmpfs fills the device, or frees it.
    if w.ballast.is_some() && pick >> 30 == 0 {
        w.toggle_fill(t);
        return;
    }
    let epoch = w.fill_epoch.load(SeqCst);
    let _gate = w.gate.read_recursive();
    let mut slot = w.paths[k].lock().unwrap_or_else(|e| e.into_inner());
    let Some(id) = slot.open else {
        // Session 40: first the second pool opens it and reads it whole, then closes it.
        if pick & 2 != 0 {
            other_pool_visit(w, t, &slot, k, epoch);
        }
        // Reopen under the slot's id or its other one.
        let id = FileId(PATH_ID + 2 * k as u32 + (pick & 1));
        let r = pool.open_file_as(id, &slot.path);
        // `FileIdInUse`: the calls of the file last open under the id still held it a second after its close;
        // `FileLocked`: so its lock was let go late (`Stats::files_released_late`), and the open waited 2 s for it.
        w.judge(
            t,
            &r,
            |e| {
                matches!(e, Error::FileIdInUse(_) | Error::FileLocked { .. })
                    || (w.maybe_full(epoch) && full_device_open_error(e))
            },
            &format!("open_file_as({id:?}, path slot {k})"),
        );
        if r.is_err() {
            return;
        }
        t.path_opens += 1;
        slot.open = Some(id);
        check_path_io(w, id, k);
        check_path_open(pool, w, t, &slot, k, id, "path reopen");
        return;
    };
    let n = pick / 8 % (slot.pages.len() as u32 + 1);
    match pick % 8 {
        0..=2 => {
            let new = n as usize == slot.pages.len();
            if new && slot.pages.len() >= PATH_PAGES_MAX {
                return;
            }
            let r = if new {
                pool.new_page(id)
            } else {
                pool.write(PageId::new(id, n))
            };
            let r = r.map(|mut g| {
                let page = g.page_id();
                let n = page.page_no() as usize;
                let want = if n < slot.pages.len() {
                    path_content(k, n as u32, slot.pages[n])
                } else {
                    Content::Zero
                };
                if n > slot.pages.len() || decode(&g) != want {
                    w.violation(format!(
                        "path slot {k}: {page:?} (new: {new}) holds {:?}, model {want:?} ({} pages)",
                        decode(&g),
                        slot.pages.len()
                    ));
                    return;
                }
                let gen = w.model.next_gen();
                fill(&mut g, PageId::new(FileId(PATH_ID + 2 * k as u32), n as u32), gen);
                g.set_lsn(gen);
                if n == slot.pages.len() {
                    slot.pages.push(gen);
                } else {
                    slot.pages[n] = gen;
                }
            });
            let what = format!("path slot {k}: {}({id:?}, {n})", if new { "new_page" } else { "write" });
            if new {
                w.judge(t, &r, |e| new_page_allowed(e, false), &what);
            } else {
                w.judge(t, &r, |e| write_allowed(e, false, false), &what);
            }
        }
        3 if (n as usize) < slot.pages.len() => check_path_page(w, t, &slot, k, id, n, "path"),
        3 | 4 => {
            // The same path again, under a fresh id and under the slot's other id: refused, naming the open id.
            let other = FileId(id.0 ^ 1);
            for (what, r) in [
                ("open_file", pool.open_file(&slot.path)),
                ("open_file_as(other id)", pool.open_file_as(other, &slot.path)),
            ] {
                t.ops += 1;
                match r {
                    Err(Error::FileAlreadyOpen { file, .. }) if file == id => {}
                    r => {
                        w.violation(format!(
                            "{what} of path slot {k}'s path, open under {id:?}: {r:?}, the docs say FileAlreadyOpen \
                             naming {id:?}"
                        ));
                        if let Ok(f) = r {
                            let _ = pool.drop_file(f);
                        }
                    }
                }
            }
            // Another path under the open id: refused before that path is created (R38-4, R39-10).
            let elsewhere = slot.path.with_extension("elsewhere");
            let r = pool.open_file_as(id, &elsewhere);
            t.ops += 1;
            let left = elsewhere.exists() || bufpool::storage::sidecar_path(&elsewhere).exists();
            if !matches!(r, Err(Error::FileIdInUse(i)) if i == id) || left {
                w.violation(format!(
                    "open_file_as({id:?}) of another path while path slot {k} is open under it: {r:?}, files left: \
                     {left}"
                ));
            }
        }
        5 => {
            let r = pool.flush_file(id);
            w.judge(
                t,
                &r,
                |e| flush_allowed(e, false),
                &format!("path slot {k}: flush_file"),
            );
        }
        _ => {
            let r = pool.close_file(id);
            w.judge(t, &r, close_allowed, &format!("path slot {k}: close_file({id:?})"));
            if r.is_ok() {
                slot.open = None;
                for e in path_disk_errors(&slot, k, "close_file") {
                    w.violation(e);
                }
            }
        }
    }
}

/// Session 40: the file by path open under `id` runs on the backend and in the mode the seed chose
/// (`Stats::files` says which: `Builder::open_mode`, `Builder::io_backend`).
fn check_path_io(w: &World, id: FileId, k: usize) {
    let Ok(s) = w.pool.file_stats(id) else { return };
    let io = w.path_io;
    let backend = match io.backend {
        IoBackend::Pread => "pread",
        IoBackend::Uring => "io_uring",
        _ if bufpool::storage::uring_available() => "io_uring",
        _ => "pread",
    };
    let direct_ok = match io.mode {
        OpenMode::DirectOnly => s.direct,
        OpenMode::Buffered => !s.direct,
        _ => true,
    };
    if s.backend != backend || !direct_ok {
        w.violation(format!(
            "path slot {k} open under {id:?} with {io:?}: the pool says backend {}, direct {}",
            s.backend, s.direct
        ));
    }
}

/// Path slot `k`, just opened in `pool` under `id`: its page count and every page are the model's.
fn check_path_open(pool: &BufferPool, w: &World, t: &mut Tally, slot: &PathSlot, k: usize, id: FileId, what: &str) {
    match pool.file_pages(id) {
        Ok(n) if n as usize == slot.pages.len() => {}
        other => w.violation(format!(
            "{what}: open_file_as({id:?}) of path slot {k}: file_pages {other:?}, the model has {} pages",
            slot.pages.len()
        )),
    }
    for n in 0..slot.pages.len() as u32 {
        check_path_page_in(pool, w, t, slot, k, id, n, what);
    }
}

/// An open by path on a full device: refused creating or reading what it needs (`NoSpace`, `OpenIo`, `Open`).
fn full_device_open_error(e: &Error) -> bool {
    matches!(e, Error::NoSpace { .. } | Error::OpenIo { .. } | Error::Open { .. })
}

/// Session 40: the second pool (`World::other`) opens path slot `k`'s file, closed in the first pool, by path:
/// it must open (the first pool's close let its lock go), hold every page the model has, and close again.
fn other_pool_visit(w: &World, t: &mut Tally, slot: &PathSlot, k: usize, epoch: u64) {
    let Some(other) = &w.other else { return };
    let r = other.open_file(&slot.path);
    // `FileLocked`: the first pool's storage was let go late (see `path_file`'s reopen).
    w.judge(
        t,
        &r,
        |e| matches!(e, Error::FileLocked { .. }) || (w.maybe_full(epoch) && full_device_open_error(e)),
        &format!("second pool: open_file(path slot {k})"),
    );
    let Ok(id) = r else { return };
    t.other_pool_opens += 1;
    check_path_open(other, w, t, slot, k, id, "second pool: open");
    if let Err(e) = other.close_file(id) {
        w.violation(format!(
            "second pool: close_file of path slot {k} (nothing written): {e:?}"
        ));
        let _ = other.drop_file(id);
    }
}

/// `Op::PathRace`: `open_file_as(RACE_ID)` of this thread's own path, which no file has (each open that got the id
/// removed its file before it returned). The threads race for the id: the winner makes a page, closes the file
/// (checking the page on disk; after a failed close it drops it) and removes it; a refused open
/// (`FileIdInUse`) must leave nothing at its path (R39-10: before, one refused at registration left the data file
/// and its sidecar it had created).
fn path_race(w: &World, t: &mut Tally) {
    let pool = &w.pool;
    let _gate = w.gate.read_recursive();
    let path = w.path_dir().join(format!("race-{}.db", WORKER.with(|c| c.get())));
    let epoch = w.fill_epoch.load(SeqCst);
    let r = pool.open_file_as(RACE_ID, &path);
    w.judge(
        t,
        &r,
        |e| matches!(e, Error::FileIdInUse(RACE_ID)) || (w.maybe_full(epoch) && full_device_open_error(e)),
        "open_file_as(RACE_ID)",
    );
    // On a full device (session 40) a new file may be refused after it was made (creating its record): the
    // files stay, by design (R39-10: removing them would race another opener of the path); the model removes
    // them.
    if matches!(&r, Err(e) if !matches!(e, Error::FileIdInUse(_)) && w.maybe_full(epoch) && full_device_open_error(e)) {
        if let Err(e) = bufpool::storage::remove_data_file(&path) {
            w.violation(format!("remove_data_file({path:?}) after a refusal for space: {e}"));
        }
        return;
    }
    if r.is_err() {
        let left: Vec<_> = [path.clone(), bufpool::storage::sidecar_path(&path)]
            .into_iter()
            .filter(|p| p.exists())
            .collect();
        if !left.is_empty() {
            w.violation(format!(
                "open_file_as(RACE_ID, {path:?}) refused ({r:?}) left {left:?} behind"
            ));
        }
        return;
    }
    t.path_opens += 1;
    if pool.file_pages(RACE_ID).ok() != Some(0) {
        w.violation(format!(
            "open_file_as(RACE_ID) of a new path: {:?} pages",
            pool.file_pages(RACE_ID)
        ));
    }
    let made = pool.new_page(RACE_ID).map(|mut g| {
        let page = g.page_id();
        let gen = w.model.next_gen();
        fill(&mut g, page, gen);
        g.set_lsn(gen);
        gen
    });
    w.judge(t, &made, |e| new_page_allowed(e, false), "new_page(RACE_ID)");
    let closed = pool.close_file(RACE_ID);
    w.judge(t, &closed, close_allowed, "close_file(RACE_ID)");
    match (&made, &closed) {
        (Ok(gen), Ok(())) => {
            let bytes = std::fs::read(&path).unwrap_or_default();
            let got = bytes.get(bufpool::PAGE_HEADER_SIZE..PAGE_SIZE).map(decode);
            let want = Content::Version {
                page: PageId::new(RACE_ID, 0),
                gen: *gen,
            };
            if got != Some(want) {
                w.violation(format!(
                    "close_file(RACE_ID) Ok, but page 0 on disk is {got:?}, model {want:?}"
                ));
            }
        }
        (_, Err(_)) => {
            if let Err(e) = pool.drop_file(RACE_ID) {
                w.violation(format!("drop_file(RACE_ID) after a failed close: {e:?}"));
            }
        }
        _ => {}
    }
    if let Err(e) = bufpool::storage::remove_data_file(&path) {
        w.violation(format!("remove_data_file({path:?}): {e}"));
    }
}

/// The operator's views (`Op::Diagnostics`): each consistent with itself and with the pool's size, and no counter
/// of `stats` below this thread's previous snapshot's (the docs: no counter ever goes back).
fn diagnostics(w: &World, t: &mut Tally, f: usize, pick: u32) {
    let fid = w.fid(f);
    let pool = &w.pool;
    let frames = pool.frames();
    let latches = pool.held_latches();
    for l in &latches {
        if l.page == PageId::INVALID || l.holders == 0 || (l.exclusive && l.holders != 1) {
            w.violation(format!("held_latches: {l:?}"));
        }
    }
    let resident = pool.resident_pages();
    if resident.len() > frames
        || resident.windows(2).any(|p| p[0].page > p[1].page)
        || resident
            .iter()
            .any(|p| p.page == PageId::INVALID || p.frame as usize >= frames)
    {
        w.violation(format!("resident_pages of a pool of {frames} frames: {resident:?}"));
    }
    let stats = pool.stats();
    if stats.dirty > stats.resident || stats.resident > frames || stats.latched > frames || stats.frames != frames {
        w.violation(format!("stats of a pool of {frames} frames: {stats:?}"));
    }
    if let Some(last) = t.last_stats.replace(stats.clone()) {
        let pairs = [
            ("hits", last.hits, stats.hits),
            ("misses", last.misses, stats.misses),
            ("reads", last.reads, stats.reads),
            ("writes", last.writes, stats.writes),
            ("evictions", last.evictions, stats.evictions),
            ("syncs", last.syncs, stats.syncs),
            ("exhausted", last.exhausted, stats.exhausted),
            ("read_errors", last.read_errors, stats.read_errors),
            ("write_errors", last.write_errors, stats.write_errors),
        ];
        for (name, was, now) in pairs {
            if now < was {
                w.violation(format!("stats: {name} went back from {was} to {now}"));
            }
        }
    }
    let before = w.model.snapshot(f, 0);
    let file_stats = pool.file_stats(fid);
    let pages = pool.file_pages(fid);
    let flux = w.flux(f, &before);
    if let Ok(s) = &file_stats {
        if s.file != fid {
            w.violation(format!("file_stats({fid:?}) named another file: {s:?}"));
        }
    }
    w.judge(
        t,
        &file_stats,
        |e| flux && matches!(e, Error::FileNotOpen(_)),
        "file_stats",
    );
    w.judge(t, &pages, |e| flux && matches!(e, Error::FileNotOpen(_)), "file_pages");
    if let Some(page) = w.pick_page(f, pick) {
        pool.prefetch_lookup(page);
        pool.prefetch_frame(page, usize::MAX);
    }
}

/// `expect_lsn` of the LSN page `pick` has on storage now (true by construction, so no load may fail it later:
/// every write is of a newer generation), `written_lsns` (sorted by page, unique, none above `upto`) and
/// `file_identity` (the identity on every page this open wrote).
fn lsns(w: &World, t: &mut Tally, f: usize, pick: u32) {
    let fid = w.fid(f);
    let pool = &w.pool;
    let page = pick!(w.pick_page(f, pick));
    let before = w.model.snapshot(f, page.page_no());
    // `expect_lsn` names its file by id. An LSN read from one incarnation's storage and given after the file was
    // dropped and reopened under the id is an expectation of the wrong file, which the pool cannot tell and keeps:
    // a later load of the page in the new file then fails with `StaleWrite`. That is the caller's race, not the
    // pool's (the 16-thread stress, seed 1002123). So the storage is taken, its image read and the expectation
    // given with the file open and its close or drop (the only way to a reopen) held off.
    let lifecycle = w.lifecycle[f].read();
    let (storage, opened_at, open) = {
        let m = w.model.file(f);
        (m.storage.clone(), m.opened_at, m.state == FileState::Open)
    };
    let image = storage.inner.snapshot();
    let header = |n: usize| {
        let at = n * PAGE_SIZE;
        let h = image.get(at..at + bufpool::PAGE_HEADER_SIZE)?;
        // A page the pool wrote: its magic (`page.rs`: offset 16).
        (u16::from_le_bytes(h[16..18].try_into().unwrap()) == bufpool::page::PAGE_MAGIC).then(|| {
            (
                u64::from_le_bytes(h[8..16].try_into().unwrap()),
                u32::from_le_bytes(h[20..24].try_into().unwrap()),
            )
        })
    };
    if let Some((lsn, _)) = header(page.page_no() as usize).filter(|&(lsn, _)| open && lsn > 0) {
        let r = pool.expect_lsn(page, lsn);
        let (flux, freed) = (w.flux(f, &before), w.freed(page, &before));
        w.judge(
            t,
            &r,
            |e| (flux || freed) && matches!(e, Error::FileNotOpen(_) | Error::OutOfRange { .. }),
            &format!("expect_lsn({page:?}, {lsn})"),
        );
    }
    drop(lifecycle);
    let upto = w.model.gen.load(SeqCst);
    let after = pick as u64 % upto.max(1);
    let r = pool.written_lsns(fid, after, upto);
    if let Ok(list) = &r {
        let sorted = list.windows(2).all(|p| p[0].0 < p[1].0);
        if !sorted || list.iter().any(|&(_, lsn)| lsn > upto) {
            w.violation(format!(
                "written_lsns({fid:?}, {after}, {upto}): not sorted by page, or an LSN above {upto}: {list:?}"
            ));
        }
    }
    let flux = w.flux(f, &before);
    w.judge(
        t,
        &r,
        |e| flux && matches!(e, Error::FileNotOpen(_)),
        &format!("written_lsns({fid:?})"),
    );
    let r = pool.file_identity(fid);
    if let (Ok(identity), false) = (&r, w.flux(f, &before)) {
        // `file_identity`'s docs: the identity this open stamps into the pages it writes (`None`: none, 0).
        let want = identity.unwrap_or(0);
        for n in 0..image.len() / PAGE_SIZE {
            if let Some((lsn, got)) = header(n).filter(|&(lsn, _)| lsn >= opened_at.max(1)) {
                if got != want {
                    w.violation(format!(
                        "file_identity({fid:?}) is {identity:?}, but page {n} (LSN {lsn}) written by this open \
                         carries {got:#x}"
                    ));
                    break;
                }
            }
        }
    }
    let flux = w.flux(f, &before);
    w.judge(
        t,
        &r,
        |e| flux && matches!(e, Error::FileNotOpen(_)),
        &format!("file_identity({fid:?})"),
    );
}

/// `close_all` while other threads go on: closes every file open when it starts (the model's open ones: the
/// gate keeps closes and reopens out meanwhile); one that fails stays open. Each file closed is checked as a
/// `close_file` is, and reopened (so the schedule goes on with its files).
fn close_all(w: &World, t: &mut Tally) {
    let gate = w.gate.write();
    let mut marked = Vec::new();
    for f in 0..w.model.files.len() {
        let mut m = w.model.file(f);
        if m.state == FileState::Open {
            m.state = FileState::Closing;
            m.life += 1;
            marked.push(f);
        }
    }
    let excluded: Vec<_> = marked.iter().map(|&f| w.lifecycle[f].write()).collect();
    let r = w.pool.close_all();
    drop(excluded);
    w.judge(t, &r, close_all_allowed, "close_all");
    for &f in &marked {
        let fid = w.fid(f);
        let closed = matches!(w.pool.file_pages(fid), Err(Error::FileNotOpen(_)));
        if r.is_ok() && !closed {
            w.violation(format!("close_all returned Ok, yet {fid:?} is still open"));
        }
        let mut m = w.model.file(f);
        if !closed {
            m.state = FileState::Open;
            continue;
        }
        m.state = FileState::Closed;
        m.closed_clean = true;
        check_closed_image(w, m, "close_all");
    }
    // Files opened by path are closed too (no path op runs meanwhile: they hold the gate), with every page on disk.
    for (k, slot) in w.paths.iter().enumerate() {
        let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
        let Some(id) = slot.open else { continue };
        let closed = matches!(w.pool.file_pages(id), Err(Error::FileNotOpen(_)));
        if r.is_ok() && !closed {
            w.violation(format!(
                "close_all returned Ok, yet path slot {k} ({id:?}) is still open"
            ));
        }
        if closed {
            slot.open = None;
            for e in path_disk_errors(&slot, k, "close_all") {
                w.violation(e);
            }
        }
    }
    drop(gate);
    for &f in &marked {
        reopen_file(w, f);
    }
}

/// Checks the page under `g` against the model, writes a new generation through it and records it in the model
/// (while the latch is held: no other writer can intervene).
fn write_through(w: &World, g: &mut bufpool::WriteGuard<'_>, what: &str) {
    let page = g.page_id();
    let f = page.file().0 as usize;
    let mut m = w.model.file(f);
    if let Err(e) = m.check_latched(page.page_no(), g) {
        drop(m);
        w.violation(format!("{what}: {e}"));
        m = w.model.file(f);
    }
    let gen = w.model.next_gen();
    fill(g, page, gen);
    g.set_lsn(gen);
    let state = match m.peek(page.page_no()).0 {
        PageState::Allocated(_) => PageState::Allocated(gen),
        PageState::Freeing(_) => PageState::Freeing(gen),
        s @ (PageState::Freed | PageState::Listed) => s,
    };
    m.page(page.page_no()).0 = state;
}

/// A change undone under its latch: the page filled as a new version, then its bytes put back with
/// `WriteGuard::restore` (no `set_lsn`). The model keeps the version it had; the page must read as that version.
fn write_restored(w: &World, g: &mut bufpool::WriteGuard<'_>) {
    let page = g.page_id();
    w.check_latched(page, g, "write_clean (to restore)");
    let before = g.to_vec();
    fill(g, page, w.model.next_gen());
    if let Err(e) = g.restore(&before) {
        w.violation(format!("restore({page:?}) of its own bytes: {e:?}"));
    }
    if g[..] != before[..] {
        w.violation(format!("restore({page:?}) did not put its bytes back"));
    }
}

/// Content read without a latch (optimistic): a version between the model's before and after, if nothing
/// freed the page or changed the file meanwhile; otherwise any version of this page.
fn check_unlatched(w: &World, page: PageId, before: &Snapshot, bytes: &[u8], what: &str) {
    let f = page.file().0 as usize;
    let after = w.model.snapshot(f, page.page_no());
    let got = decode(bytes);
    let stable = before.life == after.life
        && before.page.1 == after.page.1
        && !after.free_calls.overlapped_since(before.free_calls);
    let ok = match (got, before.page.0, after.page.0) {
        (Content::Torn, ..) => false,
        (Content::Version { page: p, .. }, ..) if p != page => false,
        (Content::Zero, PageState::Allocated(g0), _) if stable => g0 == 0,
        (Content::Version { gen, .. }, PageState::Allocated(g0), PageState::Allocated(g1)) if stable => {
            (g0..=g1).contains(&gen)
        }
        _ => true,
    };
    if !ok {
        w.violation(format!(
            "{what} {page:?}: got {got:?}, model before {:?} after {:?}",
            before.page, after.page
        ));
    }
}

fn lifecycle(w: &World, t: &mut Tally, f: usize, close: bool, reopen: bool) {
    let fid = w.fid(f);
    let pool = &w.pool;
    let gate = w.gate.read_recursive();
    {
        let mut m = w.model.file(f);
        match m.state {
            FileState::Open => {
                m.state = FileState::Closing;
                m.life += 1;
            }
            FileState::Closed => {
                drop(m);
                drop(gate);
                reopen_file(w, f);
                return;
            }
            FileState::Closing => return,
        }
    }
    let excluded = w.lifecycle[f].write();
    let r = if close {
        pool.close_file(fid)
    } else {
        pool.drop_file(fid)
    };
    drop(excluded);
    let what = if close { "close_file" } else { "drop_file" };
    w.judge(
        t,
        &r,
        if close { close_allowed } else { drop_allowed },
        &format!("{what}({fid:?})"),
    );
    let mut m = w.model.file(f);
    if r.is_err() {
        m.state = FileState::Open;
        return;
    }
    m.state = FileState::Closed;
    m.closed_clean = close;
    if close {
        check_closed_image(w, m, "close_file");
    } else {
        drop(m);
    }
    drop(gate);
    if reopen {
        reopen_file(w, f);
    }
}

/// After a `close_file` (or `close_all`) of the file `m` returned `Ok`: every page the model holds is on its storage.
/// Takes the model's lock of the file held since it was marked closed (a reopen must not come in between).
fn check_closed_image<'a>(w: &'a World, m: std::sync::MutexGuard<'a, FileModel>, what: &str) {
    let errors = closed_image_errors(&m, what);
    drop(m);
    for e in errors {
        w.violation(e);
    }
}

/// The pages of the model's file `m` that its storage does not hold (after a close that returned `Ok`: it wrote
/// and synced them), except one that a `free_page` begun in an earlier incarnation, still running, may have
/// discarded (`FreeCalls`).
fn closed_image_errors(m: &FileModel, what: &str) -> Vec<String> {
    let fid = m.id;
    let image = m.storage.inner.snapshot();
    let mut errors = Vec::new();
    for n in 0..m.pages.len() as u32 {
        if m.free_calls(n).running > 0 {
            continue;
        }
        if let PageState::Allocated(g) = m.pages[n as usize].0 {
            let at = n as usize * PAGE_SIZE;
            let got = image.get(at + bufpool::PAGE_HEADER_SIZE..at + PAGE_SIZE).map(decode);
            let want = if g == 0 {
                Content::Zero
            } else {
                Content::Version {
                    page: PageId::new(fid, n),
                    gen: g,
                }
            };
            if got != Some(want) {
                errors.push(format!(
                    "{what}: {fid:?} closed Ok, but page {n} on storage is {got:?}, model {want:?}"
                ));
            }
        }
    }
    errors
}

/// Opens slot `m` under its id over its storage: with its own log (`open_storage_with`) or the builder's
/// (`open_storage_as`).
fn open_slot(pool: &BufferPool, fid: FileId, m: &FileModel) -> bufpool::Result<FileId> {
    if m.own_wal {
        pool.open_storage_with(m.storage.clone(), FileOptions::new().id(fid).wal(m.wal.clone()))
    } else {
        pool.open_storage_as(fid, m.storage.clone())
    }
}

/// Reopens closed file slot `f` under the same id: the same storage after `close_file`, a new empty one after
/// `drop_file` (a dropped file's content is not the model's to know).
fn reopen_file(w: &World, f: usize) {
    let fid = w.fid(f);
    let _gate = w.gate.read_recursive();
    let mut m = w.model.file(f);
    if m.state != FileState::Closed {
        return;
    }
    if !m.closed_clean {
        m.storage = Arc::new(ModelStorage::of(fid, m.wal.clone()));
        m.pages.clear();
        m.inc_start = w.model.gen.load(SeqCst);
    }
    m.opened_at = w.model.gen.load(SeqCst);
    // The open's own read of page 0 holds no frame: a call back from it is not the model's to judge.
    let reenter = REENTER.with(|a| a.take());
    let r = open_slot(&w.pool, fid, &m);
    REENTER.with(|a| a.set(reenter));
    match r {
        Ok(_) => {
            let pages = w.pool.file_pages(fid).unwrap_or(0);
            for n in pages as usize..m.pages.len() {
                // A `free_page` begun in an earlier incarnation, still running, may have freed the page before
                // the close wrote it (`FreeCalls`): then it never reached the storage. (Once it returns, it marks
                // the page `Freeing`.)
                if m.free_calls(n as u32).running > 0 {
                    continue;
                }
                if let PageState::Allocated(g) = m.pages[n].0 {
                    let msg = format!("reopen({fid:?}): page {n} (gen {g}) is past the storage's end ({pages})");
                    drop(m);
                    w.violation(msg);
                    m = w.model.file(f);
                }
            }
            // Freed pages are forgotten by a reopen (the free list lives in memory): they stay unusable, and no
            // longer listed (a write of one succeeds).
            m.pages.truncate(pages as usize);
            for p in &mut m.pages {
                if p.0 == PageState::Listed {
                    p.0 = PageState::Freed;
                }
            }
            m.state = FileState::Open;
            m.life += 1;
        }
        // An injected read failure met the open's check of page 0 (a storage without record): the open fails
        // and opens nothing (R18-21); the file stays closed, and its next close or quiesce reopens it.
        Err(Error::OpenIo { op: "read page 0", .. }) => {}
        // An armed storage-read panic met that check: caught as the open's error, nothing opened (R19-22).
        Err(Error::Panicked { .. }) => {}
        Err(e) => {
            drop(m);
            w.violation(format!("open_storage_as({fid:?}) after close: {e:?}"));
        }
    }
}

fn inject(w: &World, f: usize, i: Inject, t: &mut Tally) {
    let m = w.model.file(f);
    match i {
        Inject::FailRead => m.storage.fail_next_read.store(true, SeqCst),
        Inject::FailWrite => m.storage.fail_next_write.store(true, SeqCst),
        Inject::FailSync => m.storage.fail_next_sync.store(true, SeqCst),
        Inject::FailWal => m.wal.fail_next.store(true, SeqCst),
        Inject::Panic(site) => ARMED.with(|a| a.set(Some(site))),
        Inject::Reenter(site) => REENTER.with(|a| a.set(Some(site))),
    }
    t.injected_failures += 1;
}

thread_local! {
    /// The worker index of this thread, for the history.
    static WORKER: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
}

fn worker(world: &Arc<World>, me: usize, steps: &[Step]) -> Tally {
    let w: &World = world;
    let mut t = Tally::default();
    WORKER.with(|c| c.set(me));
    CURRENT.with(|c| *c.borrow_mut() = Some(world.clone()));
    for (k, s) in steps.iter().enumerate() {
        w.note(|| format!("step {k}: {:?} file {} pick {}", s.op, s.file, s.pick));
        *w.doing[me].lock().unwrap_or_else(|e| e.into_inner()) = format!("step {k}: {s:?}");
        if let Some(i) = s.inject {
            inject(w, s.file, i, &mut t);
        }
        let r = catch_unwind(AssertUnwindSafe(|| run_step(w, &mut t, s)));
        ARMED.with(|a| a.set(None));
        // An armed call back stays armed until a callback on this thread fires it (most ops meet none).
        if let Err(p) = r {
            t.injected_panics += 1;
            if let Some(msg) = panic_text(&*p) {
                w.violation(format!("step {k} {s:?} panicked: {msg}"));
            }
        }
        tick_snapshot(w, &mut t, false);
        match s.jitter {
            Jitter::None => {}
            Jitter::Yield => std::thread::yield_now(),
            Jitter::SleepMicros(us) => std::thread::sleep(Duration::from_micros(us)),
        }
    }
    tick_snapshot(w, &mut t, true);
    *w.doing[me].lock().unwrap_or_else(|e| e.into_inner()) = "done".into();
    CURRENT.with(|c| c.borrow_mut().take());
    REENTER.with(|a| a.set(None));
    t
}

// ---------------------------------------------------------------------------------------------------------------
// A schedule

/// The outcome of one schedule.
pub struct Outcome {
    pub seed: u64,
    pub tally: Tally,
    /// Invariant violations and disallowed errors; empty when the schedule passed.
    pub violations: Vec<String>,
    /// Set when the watchdog fired: what each thread was doing.
    pub hang: Option<String>,
    pub elapsed: Duration,
}

fn build_pool(
    seed: u64,
    rng: &mut StdRng,
    wal: Arc<ModelWal>,
    veto: Arc<VetoState>,
    f: &Features,
    policy_dead: Arc<AtomicBool>,
    snapshots: Option<SnapshotTracker>,
) -> bufpool::Builder {
    let policies = [
        PolicyKind::S3Fifo,
        PolicyKind::Clock,
        PolicyKind::Lru,
        PolicyKind::Arc,
        PolicyKind::Sieve,
    ];
    let frames = [12, 16, 24, 32][rng.random_range(0..4)];
    let mut b = BufferPool::builder().frames(frames);
    // A preset on a quarter of the seeds, after the frames as its docs ask (its writer's free-frame target is a
    // fraction of them), under the settings below (which override its policy and I/O threads).
    if rng.random_bool(0.25) {
        b = b.preset(Preset::ALL[rng.random_range(0..Preset::ALL.len())]);
    }
    let kind = policies[rng.random_range(0..policies.len())];
    b = b
        .page_size(PAGE_SIZE)
        .policy(kind)
        .io_threads(rng.random_range(0..3))
        .wal(wal);
    // The model's policy object (panics, calls back into the pool) on a third of the seeds.
    if rng.random_bool(0.33) {
        b = b.custom_policy(Box::new(ModelPolicy::new(kind, frames, policy_dead)));
    }
    // Misses that find every frame latched wait a little on a quarter of the seeds (`Builder::frame_wait`).
    if rng.random_bool(0.25) {
        b = b.frame_wait(Duration::from_millis(rng.random_range(1..10)));
    }
    if rng.random_bool(0.3) {
        veto.mask.store(1 << rng.random_range(0..8), SeqCst);
    }
    let veto_panics = f.veto_panics;
    b = b.eviction_veto(move |p| {
        if veto_panics {
            maybe_panic(PanicSite::Veto);
        }
        if take_reenter(ReenterSite::Veto) {
            reenter(ReenterSite::Veto, p, false);
        }
        veto.mask.load(Relaxed) & (1 << (p.page_no() % 64)) != 0
    });
    if seed % 3 == 1 {
        b = b.background_writer(WriterConfig {
            interval: Duration::from_millis(1),
            free_frames_target: rng.random_range(0..4),
            dirty_ratio_max: 0.25,
            pages_per_sec_max: [0, 2000][rng.random_range(0..2)],
            batch_pages: 8,
        });
    }
    // Settings the narrow tests had to themselves until session 38, each on a quarter of the seeds: write guards
    // that dirty their page at its first change, latch times for `held_latches`, and a written-LSN table of one
    // chunk (the stale-write check forgets pages all the time).
    if rng.random_bool(0.25) {
        b = b.clean_write_guards(true);
    }
    if rng.random_bool(0.25) {
        b = b.latch_times(true);
    }
    if rng.random_bool(0.25) {
        b = b.stale_check_pages(64);
    }
    // Session 39: MVCC snapshots (`Op::Snapshot`) on half the seeds.
    if let Some(tracker) = snapshots {
        b = b.snapshots(tracker);
    }
    b
}

/// Runs schedule `seed`: workers, then quiesce and the invariant checks, all under the watchdog.
pub fn run_schedule(seed: u64, config: &Config) -> Outcome {
    quiet_injected_panics();
    let start = Instant::now();
    let mut rng = StdRng::seed_from_u64(splitmix(seed));
    let wal = Arc::new(ModelWal::default());
    let veto = Arc::new(VetoState::default());
    let policy_dead = Arc::new(AtomicBool::new(false));
    let snapshots = (rng.random_bool(0.5) && config.features.snapshots).then(SnapshotTracker::new);
    let close_at_end = rng.random_bool(0.25) && config.features.pool_close;
    let mut path_io = PathIo::choose(seed, config.features.path_io);
    let small_fs = SMALL_FS.with(|s| s.borrow().clone());
    if path_io.place == "small tmpfs" && small_fs.is_none() {
        path_io.place = "shm";
    }
    let pool = build_pool(
        seed,
        &mut rng,
        wal.clone(),
        veto.clone(),
        &config.features,
        policy_dead.clone(),
        snapshots.clone(),
    )
    // Session 40: the backend and mode of the files by path.
    .io_backend(path_io.backend)
    .open_mode(path_io.mode)
    .build()
    .expect("pool");
    let mut wals = vec![wal.clone()];
    let files = (0..config.files)
        .map(|i| {
            let id = FileId(i as u32);
            // Half the files have their own log (`FileOptions::wal`): their pages wait for it, never the builder's.
            let own_wal = rng.random_bool(0.5);
            let file_wal = if own_wal {
                Arc::new(ModelWal::default())
            } else {
                wal.clone()
            };
            if own_wal {
                wals.push(file_wal.clone());
            }
            let m = FileModel {
                id,
                state: FileState::Open,
                life: 0,
                inc_start: 0,
                storage: Arc::new(ModelStorage::of(id, file_wal.clone())),
                pages: Vec::new(),
                closed_clean: false,
                free_calls: Vec::new(),
                new_pages: FreeCalls::default(),
                wal: file_wal,
                own_wal,
                opened_at: 1,
            };
            open_slot(&pool, id, &m).expect("open");
            Mutex::new(m)
        })
        .collect();
    let dir = tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .expect("tempdir");
    let path_dir = match (path_io.place, &small_fs) {
        ("disk", _) => PathDir::Own(tempfile::tempdir().expect("tempdir")),
        ("small tmpfs", Some(fs)) => PathDir::Own(tempfile::tempdir_in(fs).expect("tempdir on the small tmpfs")),
        _ => PathDir::Shared,
    };
    let ballast = match (&path_dir, path_io.place) {
        (PathDir::Own(d), "small tmpfs") => Some(Mutex::new(
            std::fs::File::create(d.path().join("ballast")).expect("ballast"),
        )),
        _ => None,
    };
    let paths_in = match &path_dir {
        PathDir::Shared => dir.path().to_path_buf(),
        PathDir::Own(d) => d.path().to_path_buf(),
    };
    let other = config.features.path_io.then(|| {
        BufferPool::builder()
            .frames(8)
            .page_size(PAGE_SIZE)
            .io_backend(path_io.backend)
            .open_mode(path_io.mode)
            .build()
            .expect("second pool")
    });
    let world = Arc::new(World {
        pool,
        model: Model {
            files,
            gen: AtomicU64::new(1),
        },
        features: config.features,
        violations: Mutex::new(Vec::new()),
        history: std::env::var("BUFPOOL_MODEL_HISTORY")
            .ok()
            .and_then(|v| v.parse().ok())
            .map(|n| (n, Mutex::new(std::collections::VecDeque::new()))),
        doing: (0..config.threads + 1)
            .map(|_| Mutex::new("not started".into()))
            .collect(),
        lifecycle: (0..config.files).map(|_| parking_lot::RwLock::new(())).collect(),
        gate: parking_lot::RwLock::new(()),
        wals,
        policy_dead,
        reentries: AtomicU64::new(0),
        snapshots,
        paths: (0..PATH_SLOTS)
            .map(|k| {
                Mutex::new(PathSlot {
                    path: paths_in.join(format!("path-{k}.db")),
                    open: None,
                    pages: Vec::new(),
                })
            })
            .collect(),
        // On tmpfs where there is one: `save_resident` syncs its list, and a file opened by path its directory,
        // which costs milliseconds on a disk.
        dir,
        close_at_end,
        close_fail: AtomicBool::new(close_at_end && rng.random_bool(0.5)),
        path_io,
        path_dir,
        ballast,
        full: AtomicBool::new(false),
        fill_epoch: AtomicU64::new(0),
        other,
    });
    let plans: Vec<Vec<Step>> = (0..config.threads)
        .map(|_| {
            (0..config.ops_per_thread)
                .map(|_| gen_step(&mut rng, config.files, &config.features))
                .collect()
        })
        .collect();
    let (tx, rx) = mpsc::channel::<Tally>();
    let finished = Arc::new(AtomicUsize::new(0));
    for (me, plan) in plans.into_iter().enumerate() {
        let (w, tx, finished) = (world.clone(), tx.clone(), finished.clone());
        std::thread::Builder::new()
            .name(format!("model-{seed}-{me}"))
            .spawn(move || {
                let t = worker(&w, me, &plan);
                finished.fetch_add(1, SeqCst);
                let _ = tx.send(t);
            })
            .expect("spawn");
    }
    drop(tx);
    let mut tally = Tally::default();
    let deadline = start + config.watchdog;
    let mut got = 0;
    let mut hang = None;
    while got < config.threads {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(t) => {
                tally.merge(&t);
                got += 1;
            }
            Err(_) => {
                hang = Some(hang_report(&world, "workers"));
                break;
            }
        }
    }
    if hang.is_none() {
        // Quiesce and check, on a fresh thread under the same watchdog.
        let (tx, rx) = mpsc::channel::<()>();
        let w = world.clone();
        let checks = config.threads;
        std::thread::spawn(move || {
            *w.doing[checks].lock().unwrap_or_else(|e| e.into_inner()) = "quiesce checks".into();
            let r = catch_unwind(AssertUnwindSafe(|| quiesce_and_check(&w, checks)));
            if let Err(p) = r {
                let msg = panic_text(&*p).unwrap_or_else(|| "an injected panic escaped".into());
                w.violation(format!("quiesce checks panicked: {msg}"));
            }
            let _ = tx.send(());
        });
        if rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()) + config.watchdog / 2)
            .is_err()
        {
            hang = Some(hang_report(&world, "quiesce checks"));
        }
    }
    tally.reentries = world.reentries.load(SeqCst);
    let wals = world.wals.clone();
    let mut violations = world.violations.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if hang.is_none() {
        // Dropping the pool joins its threads, and closing it (on a quarter of the seeds) writes and syncs every
        // file: watch that too.
        let (tx, rx) = mpsc::channel::<(Vec<String>, u64)>();
        std::thread::spawn(move || {
            let mut found = Vec::new();
            let closes = if world.close_at_end {
                close_pool(world, &mut found)
            } else {
                drop(world);
                0
            };
            let _ = tx.send((found, closes));
        });
        match rx.recv_timeout(config.watchdog) {
            Ok((found, closes)) => {
                violations.extend(found);
                tally.closes += closes;
            }
            Err(_) => hang = Some("closing or dropping the pool (joining its threads) hung".into()),
        }
    }
    for wal in &wals {
        violations.extend(wal.violations.lock().unwrap_or_else(|e| e.into_inner()).drain(..));
    }
    if (hang.is_some() || !violations.is_empty()) && config.features.path_io {
        violations.push(format!("(the files by path of this seed: {path_io:?})"));
    }
    Outcome {
        seed,
        tally,
        violations,
        hang,
        elapsed: start.elapsed(),
    }
}

/// The end of a schedule that closes the pool (`World::close_at_end`): the quiesce left every open file's pages
/// dirty (a new generation each) and maybe a failed sync armed in file 0 (`close_fail`). `BufferPool::close` takes
/// the pool by value, so it runs once every thread has let the world go (the pool's own threads, the background
/// writer's and the I/O threads, still run beside it). Its docs: every file is checkpointed and closed, one failed
/// file does not stop the others, and the error names the failed files. So: `Ok`, or with the failed sync a
/// write-back error; every other file's storage holds the model's pages, every file opened by path its pages on
/// disk. Returns how many closes ran (1, or 0 when the world could not be had).
fn close_pool(world: Arc<World>, found: &mut Vec<String>) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut world = world;
    let w = loop {
        match Arc::try_unwrap(world) {
            Ok(w) => break w,
            Err(shared) if Instant::now() < deadline => {
                world = shared;
                std::thread::yield_now();
            }
            Err(_) => {
                found.push("close: the schedule's world is still shared 10 s after its threads ended".into());
                return 0;
            }
        }
    };
    let World {
        pool,
        model,
        paths,
        close_fail,
        dir,
        ..
    } = w;
    let fail = close_fail.load(SeqCst);
    let r = pool.close();
    match &r {
        Ok(()) if !fail => {}
        Err(e) if fail && write_back_error(e) => {}
        r => found.push(format!(
            "close: {r:?} (a failed sync of file 0 armed: {fail}; the docs: Ok, or the failed files' errors)"
        )),
    }
    for f in 0..model.files.len() {
        let m = model.file(f);
        if m.state == FileState::Open && !(fail && f == 0) {
            found.extend(closed_image_errors(&m, "close"));
        }
    }
    for (k, slot) in paths.iter().enumerate() {
        let slot = slot.lock().unwrap_or_else(|e| e.into_inner());
        if slot.open.is_some() {
            found.extend(path_disk_errors(&slot, k, "close"));
        }
    }
    drop(dir);
    1
}

fn hang_report(w: &World, phase: &str) -> String {
    let doing: Vec<String> = w
        .doing
        .iter()
        .enumerate()
        .map(|(i, d)| format!("  thread {i}: {}", d.lock().unwrap_or_else(|e| e.into_inner())))
        .collect();
    format!("watchdog: {phase} did not finish\n{}", doing.join("\n"))
}

/// After the workers: faults off, then every invariant.
fn quiesce_and_check(w: &World, me: usize) {
    let pool = &w.pool;
    let set_doing = |s: String| *w.doing[me].lock().unwrap_or_else(|e| e.into_inner()) = s;
    for wal in &w.wals {
        wal.fail_next.store(false, SeqCst);
    }
    // The full device freed (session 40): from here on every write of a file by path has room.
    if w.full.load(SeqCst) {
        w.toggle_fill(&mut Tally::default());
    }
    for f in 0..w.model.files.len() {
        let m = w.model.file(f);
        m.storage.fail_next_read.store(false, SeqCst);
        m.storage.fail_next_write.store(false, SeqCst);
        m.storage.fail_next_sync.store(false, SeqCst);
    }
    // Let queued prefetches finish (their loads end by themselves).
    std::thread::sleep(Duration::from_millis(5));
    let stats = pool.stats();
    let open: Vec<FileId> = stats.files.iter().map(|s| s.file).collect();
    let failed: Vec<FileId> = stats.files.iter().filter(|s| s.failed).map(|s| s.file).collect();
    for f in 0..w.model.files.len() {
        let m = w.model.file(f);
        let registered = open.contains(&m.id);
        if (m.state == FileState::Open) != registered {
            let msg = format!("{:?}: model {:?}, registered in the pool: {registered}", m.id, m.state);
            drop(m);
            w.violation(msg);
        }
    }
    // A policy object that panicked is never called again: a miss that needs a victim fails with its `Panicked`.
    let dead = w.policy_dead.load(SeqCst);
    // 1. No latch held, every page as the model says: write-latch every page of every open, healthy file.
    for f in 0..w.model.files.len() {
        let fid = w.fid(f);
        let (state, pages) = {
            let m = w.model.file(f);
            (m.state, m.pages.len() as u32)
        };
        if state != FileState::Open {
            continue;
        }
        for n in 0..pages {
            let page = PageId::new(fid, n);
            set_doing(format!("quiesce: latching {page:?}"));
            let freed = !matches!(w.model.file(f).peek(n).0, PageState::Allocated(_));
            if failed.contains(&fid) {
                match pool.read(page) {
                    Ok(g) => w.check_latched(page, &g, "quiesce read"),
                    Err(Error::Panicked { .. }) if dead => {}
                    Err(e) if read_allowed(&e, false, freed) && !miss_error(&e) => {}
                    // A failed file keeps at most `Builder::failed_file_frames` unwritable pages; the pool
                    // dropped the rest (and says so), and their reads fail rather than serve the older image.
                    Err(Error::FileFailed { .. }) if pool.stats().failed_pages_dropped > 0 => {}
                    Err(e) => w.violation(format!("quiesce: read({page:?}) of a failed file: {e:?}")),
                }
                continue;
            }
            let listed = w.model.file(f).peek(n).0 == PageState::Listed;
            match pool.write(page) {
                Ok(_) if listed => w.violation(format!(
                    "quiesce: write({page:?}) of a page freed and on the free list succeeded (docs: PageFreed)"
                )),
                Err(e) if listed && !matches!(e, Error::PageFreed { .. }) => w.violation(format!(
                    "quiesce: write({page:?}) of a freed page: {e:?}, docs: PageFreed"
                )),
                Ok(g) => w.check_latched(page, &g, "quiesce write"),
                Err(Error::Panicked { .. }) if dead => {}
                Err(e)
                    if freed
                        && matches!(
                            e,
                            Error::ShortRead { .. } | Error::OutOfRange { .. } | Error::PageFreed { .. }
                        ) => {}
                Err(e) => w.violation(format!("quiesce: write({page:?}): {e:?}")),
            }
        }
    }
    // 2. Failed files: dropping latches every frame of the file exclusively (a held latch: PageLatched).
    for &fid in &failed {
        set_doing(format!("quiesce: drop_file({fid:?}) (failed)"));
        let f = fid.0 as usize;
        if f >= w.model.files.len() {
            // A file opened by path (no fault is injected into them: not expected).
            w.violation(format!("quiesce: {fid:?}, a file opened by path, failed"));
            continue;
        }
        if let Err(e) = pool.drop_file(fid) {
            w.violation(format!("quiesce: drop_file({fid:?}) of a failed file: {e:?}"));
            continue;
        }
        let mut m = w.model.file(f);
        m.state = FileState::Closed;
        m.closed_clean = false;
    }
    // 3. Checkpoint: one background error may still be pending; the second must succeed and leave nothing dirty.
    set_doing("quiesce: checkpoint".into());
    if let Err(e) = pool.checkpoint() {
        if !checkpoint_allowed(&e) {
            w.violation(format!("quiesce: first checkpoint: {e:?}"));
        }
    }
    if let Err(e) = pool.checkpoint() {
        w.violation(format!("quiesce: checkpoint with no faults: {e:?}"));
    }
    let stats = pool.stats();
    if stats.dirty != 0 {
        w.violation(format!(
            "quiesce: {} dirty frames after a clean checkpoint",
            stats.dirty
        ));
    }
    // 4. Closed or dropped files: nothing of theirs resident. Probe under the same id over an empty storage: a
    // read that succeeds was served a stale page (an empty file has no pages).
    for f in 0..w.model.files.len() {
        let fid = w.fid(f);
        if w.model.file(f).state != FileState::Closed {
            continue;
        }
        set_doing(format!("quiesce: probing closed {fid:?}"));
        if let Err(e) = pool.open_storage_as(fid, MemoryStorage::new()) {
            w.violation(format!("quiesce: open_storage_as({fid:?}) over a closed id: {e:?}"));
            continue;
        }
        for n in 0..PAGES_PER_FILE_MAX * 2 {
            if let Ok(g) = pool.read(PageId::new(fid, n)) {
                w.violation(format!(
                    "quiesce: {fid:?} was closed, but page {n} is still resident: {:?}",
                    decode(&g)
                ));
            }
        }
        if let Err(e) = pool.drop_file(fid) {
            w.violation(format!("quiesce: drop_file({fid:?}) of the probe: {e:?}"));
        }
        // A cleanly closed file reopens with every page the model has.
        if w.model.file(f).closed_clean {
            reopen_file(w, f);
            let pages = w.model.file(f).pages.len() as u32;
            for n in 0..pages {
                let page = PageId::new(fid, n);
                let freed = !matches!(w.model.file(f).peek(n).0, PageState::Allocated(_));
                match pool.read(page) {
                    Ok(g) => w.check_latched(page, &g, "quiesce read after reopen"),
                    Err(Error::Panicked { .. }) if dead => {}
                    Err(e) if freed && matches!(e, Error::ShortRead { .. } | Error::OutOfRange { .. }) => {}
                    Err(e) => w.violation(format!("quiesce: read({page:?}) after reopen: {e:?}")),
                }
            }
        }
    }
    // 4b. Files opened by path: those closed reopen (under the slot's id) with every page the model has, and the
    // pages of those open are the model's.
    for (k, slot) in w.paths.iter().enumerate() {
        set_doing(format!("quiesce: path slot {k}"));
        let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
        if slot.open.is_none() {
            // Session 40: the second pool opens it by path, reads it whole, and closes it.
            other_pool_visit(w, &mut Tally::default(), &slot, k, w.fill_epoch.load(SeqCst));
            let id = FileId(PATH_ID + 2 * k as u32);
            match pool.open_file_as(id, &slot.path) {
                Ok(_) => slot.open = Some(id),
                Err(e) => {
                    w.violation(format!("quiesce: reopen of path slot {k}: {e:?}"));
                    continue;
                }
            }
        }
        let id = slot.open.expect("open");
        for n in 0..slot.pages.len() as u32 {
            match pool.read(PageId::new(id, n)) {
                Ok(g) if decode(&g) == path_content(k, n, slot.pages[n as usize]) => {}
                Ok(g) => w.violation(format!(
                    "quiesce: page {n} of path slot {k} holds {:?}, model {:?}",
                    decode(&g),
                    path_content(k, n, slot.pages[n as usize])
                )),
                Err(Error::Panicked { .. }) if dead => {}
                Err(e) => w.violation(format!("quiesce: read of page {n} of path slot {k}: {e:?}")),
            }
        }
    }
    if w.close_at_end {
        // The schedule ends with `close` (`close_pool`): every page of every open file is made dirty (a new
        // generation), and on half of these seeds file 0's next sync fails.
        set_doing("quiesce: dirtying every page for close".into());
        // The failed sync needs a page of file 0 to write (a file with nothing to write is not synced).
        let mut dirtied_0 = false;
        for f in 0..w.model.files.len() {
            let fid = w.fid(f);
            let pages = {
                let m = w.model.file(f);
                if m.state != FileState::Open {
                    continue;
                }
                m.pages.len() as u32
            };
            for n in 0..pages {
                if !matches!(w.model.file(f).peek(n).0, PageState::Allocated(_)) {
                    continue;
                }
                let page = PageId::new(fid, n);
                match pool.write(page) {
                    Ok(mut g) => {
                        write_through(w, &mut g, "quiesce write before close");
                        dirtied_0 |= f == 0;
                    }
                    Err(Error::Panicked { .. }) if dead => {}
                    Err(e) => w.violation(format!("quiesce: write({page:?}) before close: {e:?}")),
                }
            }
        }
        for (k, slot) in w.paths.iter().enumerate() {
            let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
            let (Some(id), false) = (slot.open, slot.pages.is_empty()) else {
                continue;
            };
            match pool.write(PageId::new(id, 0)) {
                Ok(mut g) => {
                    let gen = w.model.next_gen();
                    fill(&mut g, PageId::new(FileId(PATH_ID + 2 * k as u32), 0), gen);
                    g.set_lsn(gen);
                    slot.pages[0] = gen;
                }
                Err(Error::Panicked { .. }) if dead => {}
                Err(e) => w.violation(format!("quiesce: write of path slot {k}'s page 0 before close: {e:?}")),
            }
        }
        if !dirtied_0 {
            w.close_fail.store(false, SeqCst);
        }
        if w.close_fail.load(SeqCst) {
            w.model.file(0).storage.fail_next_sync.store(true, SeqCst);
        }
        set_doing("quiesce: done (close follows)".into());
        return;
    }
    // 5. Drop every file: then nothing may be resident or dirty.
    for s in pool.stats().files {
        set_doing(format!("quiesce: final drop_file({:?})", s.file));
        if let Err(e) = pool.drop_file(s.file) {
            w.violation(format!("quiesce: final drop_file({:?}): {e:?}", s.file));
        }
    }
    let stats = pool.stats();
    if stats.resident != 0 || stats.dirty != 0 {
        w.violation(format!(
            "quiesce: every file dropped, yet {} frames resident, {} dirty",
            stats.resident, stats.dirty
        ));
    }
    // 6. The pool still works: a fresh file, a page through every frame and back.
    set_doing("quiesce: fresh file through every frame".into());
    let fresh = FileId(900);
    match pool.open_storage_as(fresh, MemoryStorage::new()) {
        Ok(_) => {
            let mut made = 0u32;
            for k in 0..pool.frames() as u64 + 4 {
                match pool.new_page(fresh) {
                    Ok(mut g) => {
                        let p = g.page_id();
                        fill(&mut g, p, k + 1);
                        made += 1;
                    }
                    // Every frame is free after the drops: only the victims past them need the dead policy.
                    Err(Error::Panicked { .. }) if dead && k >= pool.frames() as u64 => break,
                    Err(e) => {
                        w.violation(format!("quiesce: new_page on a fresh file: {e:?}"));
                        break;
                    }
                }
            }
            for n in 0..made {
                let page = PageId::new(fresh, n);
                match pool.read(page) {
                    Ok(g)
                        if decode(&g)
                            == Content::Version {
                                page,
                                gen: n as u64 + 1,
                            } => {}
                    Ok(g) => w.violation(format!("quiesce: fresh {page:?} reads {:?}", decode(&g))),
                    Err(e) => w.violation(format!("quiesce: fresh read({page:?}): {e:?}")),
                }
            }
            let _ = pool.drop_file(fresh);
        }
        Err(e) => w.violation(format!("quiesce: open a fresh file: {e:?}")),
    }
    set_doing("quiesce: done".into());
}

/// Runs `seeds`, printing each failure with its seed; returns the failures (seed, description).
pub fn run_many(
    seeds: impl Iterator<Item = u64>,
    config: &Config,
    stop_at_first: bool,
) -> (Tally, Vec<(u64, String)>, u64) {
    let mut total = Tally::default();
    let mut failures = Vec::new();
    let mut ran = 0;
    // The small tmpfs of the full-device seeds (`Features::path_io`), one per run, where this process may mount.
    let mount_point = tempfile::tempdir().expect("tempdir");
    let mount = config
        .features
        .path_io
        .then(|| super::tmpfs::mount_tmpfs_shared(mount_point.path(), SMALL_FS_SIZE))
        .and_then(|m| {
            m.map_err(|e| eprintln!("whole-API model: no small tmpfs ({e}): SKIPPED its seeds"))
                .ok()
        });
    SMALL_FS.with(|s| *s.borrow_mut() = mount.as_ref().map(|_| mount_point.path().to_path_buf()));
    for seed in seeds {
        let o = run_schedule(seed, config);
        ran += 1;
        total.merge(&o.tally);
        if o.hang.is_some() || !o.violations.is_empty() {
            let mut d = String::new();
            if let Some(h) = &o.hang {
                d.push_str(h);
                d.push('\n');
            }
            for v in &o.violations {
                d.push_str("  ");
                d.push_str(v);
                d.push('\n');
            }
            eprintln!("schedule seed {seed} FAILED ({:?}):\n{d}", o.elapsed);
            let hung = o.hang.is_some();
            failures.push((seed, d));
            if stop_at_first || hung && failures.len() > 50 {
                break;
            }
        }
    }
    SMALL_FS.with(|s| s.borrow_mut().take());
    drop(mount);
    (total, failures, ran)
}
