//! Open files: `FileId <-> storage`, each file opened once.
//!
//! Owns the file registry and each file's durable-state bookkeeping: its page count, its in-memory free-page
//! list, whether it has writes not yet synced, whether it has failed, its file record (identity, written
//! mark: `record.rs`), and the LSN of each page's last write in this open, or of an engine's record of an earlier
//! open's write (a page read back older is a write the device dropped: `FileEntry::stale_below`, R21-11 and R22-10
//! in RELIABILITY.md). That table (`written.rs`) is bounded (R23-10): at most `Builder::stale_check_pages` pages a
//! file, in chunks made on first write, so a file costs what it wrote, not its highest page number; beyond the
//! bound a chunk's entries are forgotten (counted in `Stats::written_lsns_dropped`): a dropped write of one of
//! those pages is not caught, and an engine's notes (`written_lsns`) leave the page out.
//!
//! Invariants:
//! - Two open files never share a `FileId`, and one `(device, inode)` is open at most once, so cached pages of
//!   different files can never be confused. An open by path takes its id before it opens the path
//!   (`Files::reserve_id`) and keeps it until it registers or gives up, so a refusal for the id creates nothing.
//! - After the first failed sync, or failed write other than ENOSPC, the file is *failed* for good: every later
//!   write or sync is refused with [`Error::FileFailed`] (a retry after a failed fsync cannot be trusted: the
//!   kernel may have dropped the dirty data and cleared the error). Reads still work.
//! - `unsynced` is set after every completed write and cleared just before a sync: a write completing after the
//!   clear sets it again, so no completed write is ever left out of both this sync and the next.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::*};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

use crate::checksum::{self, Verified};
use crate::doublewrite::{Area, Layout};
use crate::error::{Error, Result};
use crate::free_pages::FreeList;
use crate::latency::{IoLatency, IoOp, IoTimer};
use crate::page::{AlignedBuf, FileId, Lsn, PageHeader, PageNo, PAGE_FORMAT_VERSION, PAGE_MAGIC};
use crate::record::{self, FileRecord, Loaded};
use crate::stats::{hit_slot, Counter, Counters, FileCounters, FileStats};
use crate::storage::{IoKind, IoRequest, Storage, StorageInfo};
use crate::sync::Backoff;
use crate::wal::Wal;
use crate::written::WrittenLsns;

pub(crate) struct FileEntry {
    pub(crate) id: FileId,
    /// This open's number, unique in the pool ([`Files::register`] counts them): tells this file from one opened
    /// later under the same id, which an error kept by id alone could be handed to (R18-1 in RELIABILITY.md).
    pub(crate) serial: u64,
    pub(crate) storage: Box<dyn Storage>,
    pub(crate) info: StorageInfo,
    pub(crate) path: Option<PathBuf>,
    /// The log asked before any page of this file is written (`FileOptions::wal`, else the builder's): resolved
    /// at registration, never another file's.
    pub(crate) wal: Arc<dyn Wal>,
    identity: Option<(u64, u64)>,
    /// Pages allocated: page numbers `0..pages` exist (on disk or as new dirty pages in the pool).
    pub(crate) pages: AtomicU32,
    /// Freed page numbers, reused lowest first by `new_page`, and the numbers in transit to and from it; its mutex
    /// is `new_page`'s allocation lock. In memory only (see `BufferPool::free_page`; `free_pages.rs`).
    pub(crate) free: FreeList,
    pub(crate) unsynced: AtomicBool,
    /// Serialises syncs of this file (see `BufferPool::sync_file`).
    pub(crate) sync_lock: Mutex<()>,
    /// Sweeps (`close_file`, `drop_file`) in progress or done (SeqCst): while non-zero, loads and new pages of
    /// the file undo themselves. A sweep that fails takes its count back (see [`Closing`]), so a second sweep
    /// running at the same time keeps the file closing (U6 in RELIABILITY.md).
    closing: AtomicU32,
    /// Syncs started. A page written records `syncs_started + 1` after its write completed (`FrameHeader::
    /// written_at`): the first sync to start after that covers it.
    pub(crate) syncs_started: AtomicU32,
    /// The `syncs_started` value of the last sync that succeeded: a page whose `written_at` is at most this is on
    /// disk; after a failed sync, a clean page written later may not be (see `BufferPool::evictable`).
    pub(crate) syncs_done: AtomicU32,
    failed: Mutex<Option<Arc<str>>>,
    failed_flag: AtomicBool,
    /// The registry's "some file has failed" flag, set with ours (see [`Files::any_failed`]).
    any_failed: Arc<AtomicBool>,
    /// The pool's storage-call latencies, which every call of this file records (`latency.rs`).
    latency: Arc<IoLatency>,
    /// This file's misses, reads and writes, and where its hits start (`stats.rs`, "Per-file counts").
    pub(crate) counters: FileCounters,
    /// The file identity required of every page read: its record's; 0 for an unbound file (no record: nothing is
    /// required).
    pub(crate) bound: u32,
    /// The file identity stamped into every page written: `bound`, or for an unbound file the identity its page 0
    /// carried at the open (0 if none): the file's own, when it is a bound file opened without its record
    /// (R30-1 in RELIABILITY.md).
    pub(crate) stamp: u32,
    /// The durable record (bound files only); its lock serialises record updates.
    record: Mutex<Option<FileRecord>>,
    /// Strict mode: an all-zero page below the record's written mark is a lost write.
    strict: bool,
    /// Pages not known to be durably written (bound files only): pages created by `new_page` and not yet written,
    /// and pages at or above the record's mark that the file had when it was opened, until written or read valid.
    /// The written mark never passes the lowest of them.
    unwritten: Mutex<BTreeSet<PageNo>>,
    /// Failed files only: frames holding pages that cannot be written or evicted without loss (dirty, or written
    /// since the last good sync); counted on first need after the failure, then decremented as pages are dropped,
    /// and counted again after a write guard held across the failure dirtied or restored one (R48-10).
    unwritable: Mutex<Option<usize>>,
    /// Failed files only: pages whose unwritable image was dropped (`Builder::failed_file_frames`); a load of one
    /// fails with the file's error, since the disk holds an older version.
    dropped: Mutex<BTreeSet<PageNo>>,
    /// The LSN each page had when this open last wrote it (0: not written, or written without an LSN). A page read
    /// back older than that is a write the device dropped (R21-11 in RELIABILITY.md): its previous version
    /// verifies, so nothing else would catch it. An entry may be an engine's claim instead (`BufferPool::
    /// expect_lsn`: a write of an earlier open, R22-10), checked the same way and not yet confirmed by a read or a
    /// write of the page in this open. Chunks of 64 pages made on first write, at most `Builder::
    /// stale_check_pages` pages (R23-10; `written.rs`).
    written_lsn: RwLock<WrittenLsns>,
    /// The doublewrite area, for a file opened with [`crate::FileOptions::doublewrite`] (`doublewrite.rs`); its
    /// store is the storage's ([`FileEntry::area_store`]).
    pub(crate) area: Option<Area>,
}

/// The caller's storage and log are dropped under the panic wrapper, whichever thread drops the entry's last
/// reference: after a close or drop that can be the writer's or an I/O worker's (a write run or a prefetch batch
/// held the entry), and a `Drop` that panics there would end that thread silently (R21-40; was R20-O3). The panic is
/// reported by the panic hook as any panic is; the thread runs on.
impl Drop for FileEntry {
    fn drop(&mut self) {
        let storage = std::mem::replace(&mut self.storage, Box::new(Released));
        let wal = std::mem::replace(&mut self.wal, Arc::new(crate::wal::NoWal));
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop((storage, wal))));
    }
}

/// What a dropped [`FileEntry`] holds in its storage's place for the instant before its fields are freed: never
/// called (a zero-sized box does not allocate).
struct Released;

impl Storage for Released {
    fn len(&self) -> std::io::Result<u64> {
        Ok(0)
    }
    fn read_at(&self, _: &mut [u8], _: u64) -> std::io::Result<usize> {
        Err(std::io::Error::other("the file was released"))
    }
    fn write_at(&self, _: &[u8], _: u64) -> std::io::Result<()> {
        Err(std::io::Error::other("the file was released"))
    }
    fn sync(&self) -> std::io::Result<()> {
        Err(std::io::Error::other("the file was released"))
    }
    fn info(&self) -> StorageInfo {
        StorageInfo {
            backend: "released",
            direct: false,
        }
    }
}

impl FileEntry {
    /// The identity a page read from this file must carry, if the file is bound.
    #[inline]
    pub(crate) fn expected_identity(&self) -> Option<u32> {
        (self.bound != 0).then_some(self.bound)
    }

    /// In strict mode, the written mark below which an all-zero page is a lost write.
    pub(crate) fn lost_write_below(&self) -> Option<u32> {
        if !self.strict {
            return None;
        }
        self.record.lock().map(|r| r.written_pages)
    }

    /// Whether dropping the page in frame `h` (a page of this file) would lose it: it is dirty, or was written
    /// since the file's last good sync (after a failed fsync that write may not be on disk: U3). The one test of
    /// a failed file's unwritable pages, for `evictable`, the bound's count and `evict`.
    pub(crate) fn would_lose(&self, h: &crate::frame::FrameHeader) -> bool {
        h.dirty.load(Acquire) || h.written_at.load(Acquire) > self.syncs_done.load(Acquire)
    }

    /// Frames holding this failed file's unwritable pages: `count` computes it the first time.
    pub(crate) fn unwritable_frames(&self, count: impl FnOnce() -> usize) -> usize {
        *self.unwritable.lock().get_or_insert_with(count)
    }

    /// Forgets the count of [`FileEntry::unwritable_frames`], to be taken again at its next need: a write guard
    /// held across the failure made a page of this file dirty, or `WriteGuard::restore` made one clean (R48-10 in
    /// RELIABILITY.md).
    pub(crate) fn forget_unwritable_frames(&self) {
        *self.unwritable.lock() = None;
    }

    /// Drops `page_no`'s unwritable image (the file has failed) if the file holds more frames of such pages than
    /// `bound` (`count` counts them, if the count was forgotten): `unmap` cleans the page and takes it out of its
    /// frame, and the count falls by one, all under the count's mutex. False, with nothing done, at or under the
    /// bound. One lock for the decision, the drop and the count, so that:
    /// - a recount ([`FileEntry::unwritable_frames`]) sees the page either still held, and counted before this
    ///   decrement, or gone. Noted, decremented, then unmapped, a recount between them counted the page being
    ///   dropped, and nothing took it off (R49-O10 in RELIABILITY.md);
    /// - the decision is taken on the count as it is now: taken when the victim was chosen (the file healthy
    ///   then, or another miss dropping a page meanwhile), a page within the bound was dropped (R50-12).
    ///
    /// The page is listed as dropped before it leaves its frame, so a load of it after reports the file's
    /// failure, never the older image on disk. Lock order: `unwritable`, then `dropped`, or a page-table stripe
    /// lock (in `unmap`).
    pub(crate) fn drop_unwritable(
        &self,
        page_no: PageNo,
        bound: usize,
        count: impl FnOnce() -> usize,
        unmap: impl FnOnce(),
    ) -> bool {
        let mut held = self.unwritable.lock();
        let n = held.get_or_insert_with(count);
        if *n <= bound {
            return false;
        }
        self.dropped.lock().insert(page_no);
        unmap();
        *n -= 1;
        true
    }

    /// Whether the pool dropped `page_no`'s newer image (cheap when the file has not failed).
    #[inline]
    pub(crate) fn was_dropped(&self, page_no: PageNo) -> bool {
        self.is_failed() && self.dropped.lock().contains(&page_no)
    }

    /// `page_no` was written with LSN `lsn` (the write completed). Returns the entries forgotten to make room
    /// (for `Stats::written_lsns_dropped`).
    pub(crate) fn note_written_lsn(&self, page_no: PageNo, lsn: Lsn) -> u64 {
        self.written_lsn.write().note(page_no, lsn)
    }

    /// The LSN this open last wrote `page_no` with (or an engine expects it at: [`FileEntry::expect_lsn`]), if a
    /// page read back with `lsn` is older: a dropped write. A read that is not older confirms an expectation.
    pub(crate) fn stale_below(&self, page_no: PageNo, lsn: Lsn) -> Option<Lsn> {
        let (written, expected) = self.written_lsn.read().lookup(page_no);
        if lsn < written {
            return Some(written);
        }
        if expected {
            self.written_lsn.write().confirm(page_no, written);
        }
        None
    }

    /// An engine expects `page_no` on disk at `lsn` or newer (`BufferPool::expect_lsn`): kept as an unconfirmed
    /// entry unless this open's own entry is at least as new. Returns the entries forgotten to make room.
    pub(crate) fn expect_lsn(&self, page_no: PageNo, lsn: Lsn) -> u64 {
        self.written_lsn.write().expect(page_no, lsn)
    }

    /// The pages this open wrote at an LSN in `after + 1..=upto`, and those expected at or below `upto` that no
    /// read or write has confirmed yet, each with its LSN, by page number (`BufferPool::written_lsns`); of the
    /// pages the table still keeps.
    pub(crate) fn written_lsns(&self, after: Lsn, upto: Lsn) -> Vec<(PageNo, Lsn)> {
        self.written_lsn.read().entries(after, upto)
    }

    /// `page_no` was created by `new_page` and is not on disk yet.
    pub(crate) fn note_new(&self, page_no: PageNo) {
        if self.bound != 0 {
            self.unwritten.lock().insert(page_no);
        }
    }

    /// `page_no` was written (or read back valid): it no longer holds the written mark back.
    pub(crate) fn note_written(&self, page_no: PageNo) {
        if self.bound != 0 {
            let mut u = self.unwritten.lock();
            if !u.is_empty() {
                u.remove(&page_no);
            }
        }
    }

    /// The written mark this file may record once a sync that starts now succeeds: every page below it has been
    /// written (its write completed before the sync starts). `None` for an unbound file.
    pub(crate) fn mark_candidate(&self) -> Option<u32> {
        if self.bound == 0 {
            return None;
        }
        let pages = self.pages.load(Acquire);
        Some(self.unwritten.lock().first().map_or(pages, |&n| n.min(pages)))
    }

    /// Records `candidate` (from [`FileEntry::mark_candidate`], taken before a successful sync) durably if it
    /// raises the written mark.
    pub(crate) fn advance_mark(&self, candidate: Option<u32>) -> Result<()> {
        let Some(candidate) = candidate else {
            return Ok(());
        };
        let mut rec = self.record.lock();
        let Some(current) = *rec else {
            return Ok(());
        };
        if candidate <= current.written_pages {
            return Ok(());
        }
        // A failed update leaves the mark where it was (the record's two slots make a torn one harmless); the next
        // sync raises it.
        self.store_record(
            &mut rec,
            FileRecord {
                written_pages: candidate,
                seq: current.seq + 1,
                ..current
            },
            "RecordStore (raising the written mark)",
        )
    }

    /// Writes `next` (the record in `rec`, which the caller holds, changed, at the next sequence) into the file's
    /// record store and syncs it; only then is it the record in `rec`. The caller's store, called under the panic
    /// wrapper as every storage call is (R20-2: a panic unwound out of `checkpoint`, and a store gone since the
    /// open panicked the pool). `what` names the call for a panic's error.
    fn store_record(&self, rec: &mut Option<FileRecord>, next: FileRecord, what: &'static str) -> Result<()> {
        catch_io(what, || match self.storage.record_store() {
            Some(store) => record::store(store, &next),
            None => Err(std::io::Error::other(
                "Storage::record_store returned none, though the file was opened with one",
            )),
        })
        .map_err(|e| Error::io(self.id, None, "record", e))?;
        *rec = Some(next);
        Ok(())
    }

    /// The engine's mark in the file's record (read at open or raised since); `None` for an unbound file or a record
    /// without one.
    pub(crate) fn engine_mark(&self) -> Option<u64> {
        self.record.lock().and_then(|r| r.engine_mark)
    }

    /// Records `mark` durably as the engine's mark if it raises it ([`crate::BufferPool::raise_engine_mark`]): the
    /// record at the next sequence, written and synced. `false` (nothing written) for an unbound file. A failed
    /// update leaves the mark where it was, as a failed raise of the written mark does.
    pub(crate) fn raise_engine_mark(&self, mark: u64) -> Result<bool> {
        let mut rec = self.record.lock();
        let Some(current) = *rec else {
            return Ok(false);
        };
        if current.engine_mark.is_some_and(|m| m >= mark) {
            return Ok(true);
        }
        self.store_record(
            &mut rec,
            FileRecord {
                engine_mark: Some(mark),
                seq: current.seq + 1,
                ..current
            },
            "RecordStore (raising the engine's mark)",
        )?;
        Ok(true)
    }

    #[inline]
    pub(crate) fn is_failed(&self) -> bool {
        self.failed_flag.load(Acquire)
    }

    /// The error to return for a write to a failed file.
    pub(crate) fn failed_error(&self) -> Error {
        Error::FileFailed {
            file: self.id,
            first: self.failed.lock().clone().unwrap_or_else(|| "unknown".into()),
        }
    }

    /// Latches the failure: the first reason is kept.
    pub(crate) fn fail(&self, reason: &Error) {
        let mut f = self.failed.lock();
        if f.is_none() {
            *f = Some(reason.to_string().into());
            #[cfg(feature = "tracing")]
            crate::trace::file_failed(self.id, reason);
        }
        self.failed_flag.store(true, Release);
        self.any_failed.store(true, Release);
    }

    /// True while a sweep of the file is in progress or after one succeeded (SeqCst: pairs with the sweep).
    ///
    /// The fence orders the caller's preceding page-id store (a load or `new_page` mapping its page) before this
    /// load, pairing with the fence in [`FileEntry::begin_closing`]: of a sweep and a page mapped meanwhile, at
    /// least one sees the other (store buffering; `loom_sweep_against_new_page`).
    #[inline]
    pub(crate) fn is_closing(&self) -> bool {
        std::sync::atomic::fence(SeqCst);
        self.closing.load(SeqCst) > 0
    }

    /// Marks the file closing for one sweep; the returned token takes the mark back when dropped unless the sweep
    /// [`Closing::commit`]s (also when the sweep unwinds).
    pub(crate) fn begin_closing(&self) -> Closing<'_> {
        self.closing.fetch_add(1, SeqCst);
        // Pairs with the fence in `is_closing`: the sweep's page-id loads come after the mark is visible.
        std::sync::atomic::fence(SeqCst);
        Closing {
            file: self,
            committed: false,
        }
    }

    /// Whether `page_no` is on the file's free list (freed, not yet reused by `new_page`).
    pub(crate) fn is_freed(&self, page_no: PageNo) -> bool {
        self.free.is_free(page_no)
    }

    /// `Storage::read_at`, with a panic turned into an error (see [`catch_io`]); timed (`latency.rs`).
    pub(crate) fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        let timer = IoTimer::start(&self.latency, self.id);
        let r = catch_io("Storage::read_at", || self.storage.read_at(buf, offset));
        timer.finish(IoOp::Read, 1);
        r
    }

    /// `Storage::write_at`, with a panic turned into an error; timed.
    pub(crate) fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        let timer = IoTimer::start(&self.latency, self.id);
        let r = catch_io("Storage::write_at", || self.storage.write_at(buf, offset));
        timer.finish(IoOp::Write, 1);
        r
    }

    /// The storage's doublewrite area store ([`Storage::doublewrite_store`]), with a panic turned into an error, as
    /// is its absence (the open found one; a storage that no longer has it cannot take the file's writes).
    pub(crate) fn area_store(&self) -> std::io::Result<&dyn crate::storage::RecordStore> {
        catch_io("Storage::doublewrite_store", || {
            self.storage.doublewrite_store()?.ok_or_else(|| {
                std::io::Error::other("Storage::doublewrite_store returned none, though the file was opened with one")
            })
        })
    }

    /// Writes a batch into the doublewrite area ([`Area::write`]), with a panic of the caller's store turned into an
    /// error.
    pub(crate) fn area_write(
        &self,
        area: &Area,
        batch: &crate::doublewrite::Batch<'_>,
        pages: &[PageNo],
        slot: &mut [u8],
    ) -> std::io::Result<()> {
        let store = self.area_store()?;
        catch_io("RecordStore (the doublewrite area)", || {
            area.write(store, batch, pages, slot)
        })
    }

    /// Notes in the doublewrite area that the batches up to `done` are durable in place ([`Area::note_done`]; the
    /// ring grown to the slots the file's size asks for, where it can be), with a panic of the caller's store
    /// turned into an error.
    pub(crate) fn area_note(&self, area: &Area, done: u64) -> std::io::Result<()> {
        let store = self.area_store()?;
        let slots = crate::doublewrite::slots_for(u64::from(self.pages.load(Acquire)), area.pages_per_batch());
        catch_io("RecordStore (the doublewrite area's note)", || {
            area.note_done(store, done, slots)
        })
    }

    /// `Storage::sync`, with a panic turned into an error; timed.
    pub(crate) fn sync(&self) -> std::io::Result<()> {
        let timer = IoTimer::start(&self.latency, self.id);
        let r = catch_io("Storage::sync", || self.storage.sync());
        timer.finish(IoOp::Sync, 1);
        r
    }

    /// Whether no name leads to the file any more ([`Storage::links`] is 0: deleted, or replaced by a rename over
    /// its name, while open; R41-1 in RELIABILITY.md), with a panic turned into an error.
    pub(crate) fn unlinked(&self) -> std::io::Result<bool> {
        catch_io("Storage::links", || Ok(self.storage.links() == Some(0)))
    }

    /// `Storage::submit`; if it panics, every request it left without a result fails with the panic. Timed: each
    /// request records the batch's time.
    pub(crate) fn submit(&self, reqs: &mut [IoRequest<'_>]) {
        let timer = IoTimer::start(&self.latency, self.id);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.storage.submit(reqs)));
        let reads = reqs.iter().filter(|r| matches!(r.kind, IoKind::Read(_))).count();
        timer.finish(IoOp::Read, reads);
        timer.finish(IoOp::Write, reqs.len() - reads);
        if let Err(payload) = caught {
            let err = Error::panicked("Storage::submit", payload);
            for r in reqs.iter_mut().filter(|r| r.result.is_none()) {
                r.result = Some(Err(std::io::Error::other(err.clone())));
            }
        }
    }

    /// The file's facts and counts; `counters` are the pool's, which hold its hits.
    pub(crate) fn stats(&self, counters: &Counters) -> FileStats {
        let mut stats = FileStats {
            file: self.id,
            path: self.path.clone(),
            backend: self.info.backend,
            direct: self.info.direct,
            pages: self.pages.load(Relaxed),
            failed: self.is_failed(),
            written_lsn_bytes: self.written_lsn.read().bytes(),
            hits: None,
            misses: 0,
            reads: 0,
            writes: 0,
        };
        self.counters.fill(&mut stats, counters.slot_hits(hit_slot(self.id)));
        stats
    }
}

/// Runs a call into the caller's [`Storage`] and turns a panic into an `io::Error` carrying
/// [`Error::Panicked`] (which [`Error::io`] unwraps), so every I/O path handles it as the failed call it is and
/// releases what it holds: a frame latched for a load, a run of pages latched for a write.
fn catch_io<T>(what: &'static str, call: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(call))
        .unwrap_or_else(|payload| Err(std::io::Error::other(Error::panicked(what, payload))))
}

/// One sweep's mark on a closing file (see [`FileEntry::begin_closing`]).
pub(crate) struct Closing<'a> {
    file: &'a FileEntry,
    committed: bool,
}

impl Closing<'_> {
    /// The sweep succeeded and the file is being unregistered: the mark stays for good.
    pub(crate) fn commit(mut self) {
        self.committed = true;
    }
}

impl Drop for Closing<'_> {
    fn drop(&mut self) {
        if !self.committed {
            self.file.closing.fetch_sub(1, SeqCst);
        }
    }
}

/// How long a registration waits for the calls still running on an earlier file of the same id.
const RETIRED_WAIT_MAX: Duration = Duration::from_secs(1);

/// Whether a call still holds the file last registered as `id` and since unregistered (see `Files::retired`).
fn still_held(retired: &HashMap<FileId, Weak<FileEntry>>, id: FileId) -> bool {
    retired.get(&id).is_some_and(|w| w.strong_count() > 0)
}

/// The registry of open files.
pub(crate) struct Files {
    map: RwLock<HashMap<FileId, Arc<FileEntry>>>,
    /// Closed or dropped files, by id, while some call that looked them up still holds them (a `free_page`,
    /// `flush` or load that started before the close). A file id is not registered again until its earlier
    /// file is gone: a call that named the id before the close never meets the newer file's pages. Dead entries
    /// are pruned at each unregistration. Lock order: after `map`.
    retired: Mutex<HashMap<FileId, Weak<FileEntry>>>,
    /// Ids taken by opens by path still in progress ([`Files::reserve_id`]): refused to every other open, and
    /// skipped by the pool's own choice of an id, until the open registers or gives up. Lock order: after `map`.
    opening: Mutex<HashSet<FileId>>,
    next_id: Mutex<u32>,
    /// The next open's [`FileEntry::serial`].
    next_serial: AtomicU64,
    any_failed: Arc<AtomicBool>,
    latency: Arc<IoLatency>,
    /// The pool's page size: a file's page count comes from its length, and a file of another is refused.
    page_size: usize,
    /// Strict mode for all-zero pages (`Builder::strict_fresh`), for files with a record.
    strict: bool,
    /// The most pages each file's written-LSN table keeps (`Builder::stale_check_pages`).
    stale_check_pages: usize,
}

impl Files {
    /// An empty registry for a pool of `page_size` pages, in strict mode or not (`Builder::strict_fresh`), whose
    /// files report storage calls of at least `slow_io` (`Builder::slow_io`) and keep the LSNs of at most
    /// `stale_check_pages` pages each (`Builder::stale_check_pages`).
    pub(crate) fn new(page_size: usize, strict: bool, slow_io: std::time::Duration, stale_check_pages: usize) -> Files {
        Files {
            map: RwLock::new(HashMap::new()),
            retired: Mutex::new(HashMap::new()),
            opening: Mutex::new(HashSet::new()),
            next_id: Mutex::new(0),
            next_serial: AtomicU64::new(1),
            any_failed: Arc::new(AtomicBool::new(false)),
            latency: Arc::new(IoLatency::new(slow_io)),
            page_size,
            strict,
            stale_check_pages,
        }
    }

    /// The storage-call latencies of every file this registry has had open.
    pub(crate) fn latency(&self) -> &IoLatency {
        &self.latency
    }

    /// False until some file of this pool has failed: lets the write hit path skip the registry lookup (a shared
    /// lock and a reference count, contended between cores) in the normal case.
    #[inline]
    pub(crate) fn any_failed(&self) -> bool {
        self.any_failed.load(Acquire)
    }

    #[inline]
    pub(crate) fn get(&self, id: FileId) -> Result<Arc<FileEntry>> {
        self.map.read().get(&id).cloned().ok_or(Error::FileNotOpen(id))
    }

    /// Refuses `id` for a file about to be registered, before anything is asked of its storage: reserved (above
    /// [`FileId::MAX`]: [`Error::InvalidConfig`]), held by an open file or taken by another open by path in
    /// progress ([`Error::FileIdInUse`]; `register` checks that again under the map's lock). `own`: the caller's
    /// own reservation of `id` ([`Files::reserve_id`]).
    fn refuse_id(&self, id: FileId, own: bool) -> Result<()> {
        if id > FileId::MAX {
            return Err(Error::InvalidConfig(format!("file id {} is reserved", id.0)));
        }
        let map = self.map.read();
        if map.contains_key(&id) || (!own && self.opening.lock().contains(&id)) {
            return Err(Error::FileIdInUse(id));
        }
        Ok(())
    }

    /// Takes `id` for an open by path before the path is opened (and maybe created): refused as `register`
    /// refuses it ([`Error::InvalidConfig`] for a reserved id, [`Error::FileIdInUse`] for one an open file or
    /// another open in progress has, or an earlier file's calls still hold past about a second), so a refused open
    /// creates nothing. Until the reservation is dropped no other open takes the id, so `register` cannot refuse it
    /// for the id after the file was made. Before R38-4 an open under the reserved id, and before R39-10 one whose
    /// id another thread took (or an earlier file's calls held) while the path was opened, created the data file
    /// and its sidecar, then refused it, leaving both behind.
    pub(crate) fn reserve_id(&self, id: FileId) -> Result<IdReservation<'_>> {
        self.refuse_id(id, false)?;
        let map = self.map_without_retired(Some(id))?;
        let mut opening = self.opening.lock();
        if map.contains_key(&id) || !opening.insert(id) {
            return Err(Error::FileIdInUse(id));
        }
        Ok(IdReservation { files: self, id })
    }

    pub(crate) fn all(&self) -> Vec<Arc<FileEntry>> {
        let mut v: Vec<_> = self.map.read().values().cloned().collect();
        v.sort_by_key(|f| f.id);
        v
    }

    /// The id under which the file `(device, inode)` is open, if it is.
    pub(crate) fn open_as(&self, ident: (u64, u64)) -> Option<FileId> {
        self.map
            .read()
            .values()
            .find(|f| f.identity == Some(ident))
            .map(|f| f.id)
    }

    /// Registers `storage` under `id` (or a fresh id), written under `wal`'s rule, its hits counted in
    /// `counters`' slot for the id. The pool's page size sets the page count from the length (or the written mark,
    /// if higher: R33-11). Reads (or, for an empty file whose storage keeps one, creates) the file record; refuses
    /// a file of another page size.
    pub(crate) fn register(
        &self,
        how: OpenAs,
        reserved: Option<&IdReservation<'_>>,
        storage: Box<dyn Storage>,
        path: Option<PathBuf>,
        counters: &Counters,
    ) -> Result<FileId> {
        let OpenAs { id, wal, doublewrite } = how;
        let (page_size, strict) = (self.page_size, self.strict);
        // The id first: an id another open file has is refused before the storage is asked anything, so no error
        // of this open names that file as if it were this one's (R18-O1).
        let own = |id: FileId| reserved.is_some_and(|r| r.id == id);
        if let Some(id) = id {
            self.refuse_id(id, own(id))?;
        }
        // Refused, the file has no id yet: its errors name the path given (or the id asked for).
        let opening = Opening { path: &path, id };
        // The caller's storage is called under the pool's panic wrapper here as everywhere (R18-O2): a panic is
        // this open's `Error::Panicked`, and the storage (its lock, its sidecar) is dropped with nothing registered.
        let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<_> {
            let identity = storage.identity();
            let len = storage.len().map_err(|e| opening.io("stat", e))?;
            let (record, stamp) = open_record(&*storage, &opening, len, page_size)?;
            let area = match doublewrite {
                false => {
                    refuse_pending_area(&opening, record.as_ref())?;
                    None
                }
                true => {
                    let (area, restored) = open_area(&*storage, &opening, record.as_ref(), page_size, len)?;
                    counters.add(Counter::DoublewriteRestored, restored as u64);
                    Some(area)
                }
            };
            // A page the area restored past the file's end (its extending write torn or lost) lengthened it.
            let len = match area {
                Some(_) => storage.len().map_err(|e| opening.io("stat", e))?,
                None => len,
            };
            Ok((identity, len, record, stamp, storage.info(), area))
        }))
        .unwrap_or_else(|payload| Err(Error::panicked("Storage (opening the file)", payload)));
        let (identity, len, record, stamp, info, area) = match read {
            Ok(read) => read,
            // Another open took the id meanwhile: the refusal must not name that file (R18-O1).
            Err(e) => {
                return Err(match id {
                    Some(id) if self.map.read().contains_key(&id) => Error::FileIdInUse(id),
                    _ => e,
                })
            }
        };
        // A bound file shorter than its written mark lost pages a checkpoint made durable (a device that dropped
        // the writes that extended it, R33-11): it keeps them in its count, so their reads fail (`ShortRead`) and
        // `new_page` never hands their numbers out again, to an engine whose pointers still lead to them.
        let pages = len
            .div_ceil(page_size as u64)
            .max(record.map_or(0, |r| u64::from(r.written_pages)));
        let mut map = self.map_without_retired(id)?;
        if let Some(ident) = identity {
            if let Some(f) = map.values().find(|f| f.identity == Some(ident)) {
                return Err(Error::FileAlreadyOpen { path, file: f.id });
            }
        }
        let id = match id {
            Some(id) if map.contains_key(&id) || (!own(id) && self.opening.lock().contains(&id)) => {
                return Err(Error::FileIdInUse(id))
            }
            Some(id) => id,
            None => {
                let mut next = self.next_id.lock();
                let retired = self.retired.lock();
                let opening = self.opening.lock();
                let taken = |id: FileId| map.contains_key(&id) || still_held(&retired, id) || opening.contains(&id);
                while taken(FileId(*next)) {
                    *next = next.checked_add(1).filter(|n| *n <= FileId::MAX.0).unwrap_or(0);
                }
                let id = FileId(*next);
                *next = next.checked_add(1).filter(|n| *n <= FileId::MAX.0).unwrap_or(0);
                id
            }
        };
        let pages = u32::try_from(pages).map_err(|_| {
            Error::InvalidConfig(format!(
                "{} has {pages} pages; at most {} are addressable",
                opening.name(),
                u32::MAX
            ))
        })?;
        // Hits of open files whose ids share a slot cannot be told apart (`stats.rs`, "Per-file counts").
        let slot = hit_slot(id);
        let file_counters = FileCounters::new(counters.slot_hits(slot));
        for other in map.values().filter(|f| hit_slot(f.id) == slot) {
            other.counters.share_hits();
            file_counters.share_hits();
        }
        map.insert(
            id,
            Arc::new(FileEntry {
                id,
                serial: self.next_serial.fetch_add(1, Relaxed),
                storage,
                info,
                path,
                wal,
                identity,
                pages: AtomicU32::new(pages),
                free: FreeList::default(),
                // Writes made through an earlier handle of this file may not be durable yet (a reopened file, a
                // restarted process over a warm page cache): the first flush or checkpoint syncs, as PostgreSQL
                // fsyncs its data directory at start-up. See tests/sim_regression_reopen_unsynced.rs.
                unsynced: AtomicBool::new(true),
                sync_lock: Mutex::new(()),
                closing: AtomicU32::new(0),
                syncs_started: AtomicU32::new(0),
                syncs_done: AtomicU32::new(0),
                failed: Mutex::new(None),
                failed_flag: AtomicBool::new(false),
                any_failed: self.any_failed.clone(),
                latency: self.latency.clone(),
                counters: file_counters,
                bound: record.map_or(0, |r| r.identity),
                stamp,
                strict: strict && record.is_some(),
                // Pages the file had beyond its mark may be holes (new pages never written before a crash).
                unwritten: Mutex::new(record.map_or_else(BTreeSet::new, |r| (r.written_pages..pages).collect())),
                record: Mutex::new(record),
                unwritable: Mutex::new(None),
                dropped: Mutex::new(BTreeSet::new()),
                written_lsn: RwLock::new(WrittenLsns::new(self.stale_check_pages)),
                area,
            }),
        );
        Ok(id)
    }

    /// The registry, write-locked once no call still holds an earlier file registered as `id` (waiting up to
    /// [`RETIRED_WAIT_MAX`]; `FileIdInUse` after that).
    fn map_without_retired(
        &self,
        id: Option<FileId>,
    ) -> Result<parking_lot::RwLockWriteGuard<'_, HashMap<FileId, Arc<FileEntry>>>> {
        let mut backoff = Backoff::new();
        let mut deadline = None;
        loop {
            let map = self.map.write();
            let Some(id) = id else { return Ok(map) };
            if !still_held(&self.retired.lock(), id) {
                return Ok(map);
            }
            drop(map);
            let now = Instant::now();
            if now >= *deadline.get_or_insert(now + RETIRED_WAIT_MAX) {
                return Err(Error::FileIdInUse(id));
            }
            backoff.snooze();
        }
    }

    /// Removes `file` from the registry, if it is still the file registered under its id (a concurrent close of
    /// the same file may have removed it, and its id may name a newer file since). Calls still holding it keep
    /// its id from being registered again until they end (`retired`). Returns whether this call removed it.
    pub(crate) fn unregister(&self, file: &Arc<FileEntry>) -> bool {
        // (The file's flock and record sidecar are released when its storage is dropped.)
        let mut map = self.map.write();
        if !map.get(&file.id).is_some_and(|f| Arc::ptr_eq(f, file)) {
            return false;
        }
        map.remove(&file.id);
        let mut retired = self.retired.lock();
        retired.retain(|_, w| w.strong_count() > 0);
        retired.insert(file.id, Arc::downgrade(file));
        true
    }
}

/// An id taken for an open by path in progress ([`Files::reserve_id`]); dropping it gives the id back (the open
/// registered under it, or gave up).
pub(crate) struct IdReservation<'a> {
    files: &'a Files,
    id: FileId,
}

impl Drop for IdReservation<'_> {
    fn drop(&mut self) {
        self.files.opening.lock().remove(&self.id);
    }
}

/// Lets go of `file`, which the caller has unregistered, once no other call holds it, waiting up to
/// [`RETIRED_WAIT_MAX`]: its storage (the descriptors of a file opened by path, its lock) is dropped before this
/// returns. The calls that may still hold it are the ones that looked it up before it was unregistered, each for one
/// I/O or one wait bounded by the sweep that preceded (a load finishing, a prefetch batch being dropped, a write
/// run, a sync); returned before them, `drop_file` left the file open for a moment, and an engine that unmounted
/// or deleted it then found it busy (R25-13 in RELIABILITY.md). Past the bound (a call of the pool made from one of
/// the engine's callbacks that holds the file, which would wait for itself; a storage call that hangs) the last
/// holder drops it, and this returns `false` (counted in `Stats::files_released_late`).
pub(crate) fn release(file: Arc<FileEntry>) -> bool {
    let mut backoff = Backoff::new();
    let mut deadline = None;
    let mut file = file;
    loop {
        match Arc::try_unwrap(file) {
            Ok(entry) => {
                drop(entry);
                return true;
            }
            Err(held) => file = held,
        }
        let now = Instant::now();
        if now >= *deadline.get_or_insert(now + RETIRED_WAIT_MAX) {
            return false;
        }
        backoff.snooze();
    }
}

/// A file being registered, for the errors of a refused open: the path given (opened by path) and the id asked
/// for, either or both absent. The file has no id of its own until it is registered, so its errors never name
/// one it would only have had.
struct Opening<'a> {
    path: &'a Option<PathBuf>,
    id: Option<FileId>,
}

impl Opening<'_> {
    /// The [`Error::OpenIo`] for `op` failing with `e` (or the [`Error::Panicked`] it carries).
    fn io(&self, op: &'static str, e: std::io::Error) -> Error {
        match Error::io(self.id.unwrap_or(FileId(0)), None, op, e) {
            Error::Io { op, source, .. } => Error::OpenIo {
                path: self.path.clone(),
                file: self.id,
                op,
                source,
            },
            other => other,
        }
    }

    /// The path, the id asked for, or "the storage", for a message.
    fn name(&self) -> crate::error::Opening<'_> {
        crate::error::Opening(self.path, &self.id)
    }
}

/// What an open asks of [`Files::register`] besides the storage: the id (or one the pool picks), the log the file's
/// pages are written under, and whether it keeps a doublewrite area ([`crate::FileOptions`]).
pub(crate) struct OpenAs {
    pub(crate) id: Option<FileId>,
    pub(crate) wal: Arc<dyn Wal>,
    pub(crate) doublewrite: bool,
}

/// A file by path opened without [`crate::FileOptions::doublewrite`] whose area (the sidecar beside it) still holds
/// copies from a crash of an open with it is refused (R57-O3, RELIABILITY.md): those copies are the only repair of
/// the pages the crash may have torn, and once this open wrote the pages again without the area, a later open with
/// it could restore a page torn anew from a copy older than those writes. The open with the area repairs the file
/// and marks the copies done; removing the sidecar gives them up. A file by storage is not looked at: its area is
/// the storage's to offer ([`Storage::doublewrite_store`]), and asking for it may make one.
fn refuse_pending_area(opening: &Opening<'_>, record: Option<&FileRecord>) -> Result<()> {
    let (Some(path), Some(record)) = (opening.path, record) else {
        return Ok(());
    };
    let pending = crate::storage::existing_area(path).and_then(|found| match found {
        None => Ok(None),
        Some((area, store)) => {
            let pages = crate::doublewrite::plan(&*store, record.identity)?.copies.len();
            Ok((pages > 0).then_some((area, pages)))
        }
    });
    match pending {
        Ok(None) => Ok(()),
        Ok(Some((area, pages))) => Err(Error::InvalidConfig(format!(
            "{}: opened without its doublewrite area, but the area {} holds copies of {pages} pages written before \
             a crash: open it with FileOptions::doublewrite, which restores the pages the crash tore (or remove \
             the area to give them up)",
            opening.name(),
            area.display()
        ))),
        Err(e) => Err(opening.io("read the doublewrite area", e)),
    }
}

/// The doublewrite area of a file opened with [`crate::FileOptions::doublewrite`], opened before anything reads
/// its pages: the pages a crash tore while they were written in place restored from their copies
/// ([`Area::open`]; returned with how many). Refused for a storage without a record (the area names the file by its identity) or without
/// an area store.
fn open_area(
    storage: &dyn Storage,
    opening: &Opening<'_>,
    record: Option<&FileRecord>,
    page_size: usize,
    len: u64,
) -> Result<(Area, usize)> {
    let refuse = |why: &str| Error::InvalidConfig(format!("{}: doublewrite asked, but {why}", opening.name()));
    let Some(record) = record else {
        return Err(refuse("the storage keeps no file record"));
    };
    let store = storage
        .doublewrite_store()
        .map_err(|e| opening.io("open the doublewrite area", e))?;
    let Some(store) = store else {
        return Err(refuse("the storage keeps no doublewrite area"));
    };
    let pages = crate::writer::RUN_PAGES_MAX * crate::writer::RUNS_IN_FLIGHT;
    let layout = Layout::new(
        page_size,
        crate::doublewrite::slots_for(len / page_size as u64, pages),
        pages,
    )
    .ok_or_else(|| refuse("the page size does not fit an area"))?;
    let (area, restored) =
        Area::open(store, storage, record.identity, layout).map_err(|e| opening.io("open the doublewrite area", e))?;
    Ok((area, restored.len()))
}

/// The file's record: read (and written again into its other slot, synced: R42-4, R43-2), or created for an empty file whose storage
/// keeps records; `None` for an unbound file. Refuses a file whose record or first page names another page size. With it, the identity to stamp into
/// the pages this open writes ([`FileEntry::stamp`]): the record's, or for an unbound file the one its page 0
/// carries if that page verifies (else 0).
fn open_record(
    storage: &dyn Storage,
    opening: &Opening<'_>,
    len: u64,
    page_size: usize,
) -> Result<(Option<FileRecord>, u32)> {
    let mismatch = |on_disk: usize| Error::PageSizeMismatch {
        path: opening.path.clone(),
        file: opening.id,
        on_disk,
        pool: page_size,
    };
    let record = match storage.record_store() {
        None => None,
        Some(store) => match record::load(store).map_err(|e| opening.io("read record", e))? {
            Loaded::Found(r, _) if len == 0 && r.written_pages > 0 => {
                // Pages a checkpoint wrote and synced are gone with the whole file: refused, never a fresh empty
                // file (R34-20: until then it started afresh, taking this for a file deleted to start over, so
                // a device that dropped a new file's writes lost them without a word). Starting over deletes the
                // record too. A file still holding some pages opens, its lost ones `ShortRead` (R33-11).
                return Err(Error::DataFileEmptied {
                    path: opening.path.clone(),
                    file: opening.id,
                    written_pages: r.written_pages,
                });
            }
            // Readable is not durable: a record whose sync failed (the create of a new file's, or a raised mark's)
            // stays readable, and an open in the same process took its identity, which the pages are stamped with
            // and a tree's log then names; a power loss brought back no record (or the older one), and the next open
            // made a new identity, so the tree refused its own log (R42-4 in RELIABILITY.md). So the record read is
            // written again and synced before anything relies on it: one 512-byte write and one fsync. Into the
            // other slot, at the next sequence, as every update of the record is, never over the slot read: that
            // may be the only valid slot on the device (the other garbled by an earlier power loss), and a power
            // loss garbling its rewrite then left no record: the file refused (`BadFileRecord`), or, still empty,
            // given a new identity that its tree's log does not name (R43-2). The other slot's write lost so leaves
            // the slot read, which is on the device unless its own write failed, and then nothing relied on it.
            // In another 4 KiB block than the slot read, too (R44-2): a file's write puts its whole page of the
            // page cache in flight, and a record store in the layout before session 44 holds both slots in one.
            Loaded::Found(r, at) => {
                let r = FileRecord {
                    seq: record::seq_after(r.seq, at),
                    ..r
                };
                record::store(store, &r).map_err(|e| opening.io("write the record read again", e))?;
                Some(r)
            }
            Loaded::Empty | Loaded::Invalid if len == 0 => {
                Some(record::create(store, page_size).map_err(|e| opening.io("create record", e))?)
            }
            Loaded::Empty => None,
            Loaded::Invalid => {
                return Err(Error::BadFileRecord {
                    path: opening.path.clone(),
                    file: opening.id,
                })
            }
        },
    };
    let mut stamp = 0;
    if let Some(r) = record {
        if r.page_size as usize != page_size {
            return Err(mismatch(r.page_size as usize));
        }
        stamp = r.identity;
    } else if len >= crate::page::IO_ALIGN as u64 {
        // Unbound: the first page's header, if it is a bufpool page, names its page size. A failed read fails the
        // open (R18-21): a file opened with an unchecked page size, if it was written with another, has its pages
        // overwritten at the wrong offsets by the first write-back.
        let mut buf = AlignedBuf::zeroed(page_size);
        storage.read_at(&mut buf, 0).map_err(|e| opening.io("read page 0", e))?;
        if let Some(h) = PageHeader::decode(&buf) {
            if h.magic == PAGE_MAGIC && h.format == PAGE_FORMAT_VERSION {
                if let Some(size) = h.page_size().filter(|&s| s != page_size) {
                    return Err(mismatch(size));
                }
            }
        }
        // A bound file opened without its record (through a symbolic or hard link, or renamed or copied without
        // its sidecar) keeps its identity in the pages this open writes, so they read back when the file is
        // opened with its record again; stamped 0, they were `ForeignFile` there (R30-1 in RELIABILITY.md).
        if checksum::verify(&buf, 0) == Ok(Verified::Valid) {
            stamp = PageHeader::decode(&buf).map_or(0, |h| h.file_identity);
        }
    }
    Ok((record, stamp))
}
