//! The tree's redo log: record format, group commit, the pool's [`bufpool::Wal`] hook, checkpoint truncation and
//! the scan used by recovery.
//!
//! Owns the log file and the LSN space. An LSN is a byte position in one logical, ever-growing stream; a page's
//! LSN is the *end* of the last record that changed it, so `flush_to(page_lsn)` makes exactly that record durable.
//!
//! # File format
//! ```text
//! header (32 bytes): magic "BPTWAL01" | base_lsn u64 | crc32c(bytes 0..16) u32 | zero
//! records from byte 32; the record starting at LSN l sits at byte 32 + (l - base_lsn):
//!   crc32c u32 (over bytes 4..len) | len u32 (whole record) | start_lsn u64 | op_count u16 | ops...
//! op: tag u8 | page_no u32 | body
//!   IMAGE (1): image_len u32 | hole_off u32 | hole_len u32 | image bytes outside the hole (hole = zeros)
//!   PUT   (2): klen u16 | vlen u32 | key | value          (leaf upsert, physiological)
//!   DEL   (3): klen u16 | key                             (leaf delete, physiological)
//! ```
//! One record is one atomic change: all its ops are redone, or (torn or missing tail) none. A structure change
//! (split, merge) is one record of full page images; a leaf change is one `PUT`/`DEL` op, or a full image of the
//! leaf if the page was last changed before the latest checkpoint's redo point (PostgreSQL's full-page writes,
//! so a page torn by a crash mid-write could be rebuilt from the log alone).
//!
//! # Invariants
//! - Records are written to the file in LSN order: every file write happens under the `io` mutex, which takes
//!   the buffered bytes in order. `durable` only grows and is set after an fsync covering it.
//! - Group commit: a committer waits for the `io` mutex; when it gets it, it first checks whether someone else's
//!   fsync already covered its LSN. One fsync serves every record appended before it started.
//! - After the first failed write or fsync the log refuses everything (no retry after a failed fsync).
//! - Truncation keeps the tail from the checkpoint's redo LSN on, written to a new file that atomically replaces
//!   the old one (rename), so a crash at any point leaves a valid log.
//!
//! Lock order: `io` before `state`; `state` is never held across I/O.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use bufpool::{Lsn, PageNo};
use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::node::Node;

const MAGIC: &[u8; 8] = b"BPTWAL01";
/// Size of the log file header.
pub const LOG_HDR: u64 = 32;
const REC_HDR: usize = 16;
/// Largest record accepted when reading (a sanity bound: a structure change logs a handful of pages).
const MAX_RECORD: usize = 16 << 20;
/// Buffered bytes above which an appender writes the buffer out (without fsync) if the file is free.
const BUF_SOFT_MAX: usize = 1 << 20;
/// The first LSN of a new log (0 means "never logged" on a page).
const FIRST_LSN: Lsn = 1;

const TAG_IMAGE: u8 = 1;
const TAG_PUT: u8 = 2;
const TAG_DEL: u8 = 3;

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
}

impl OwnedOp {
    /// The page the op changes.
    pub fn page(&self) -> PageNo {
        match self {
            OwnedOp::Image(p, _) | OwnedOp::Put(p, _, _) | OwnedOp::Del(p, _) => *p,
        }
    }
}

/// The part of a page image left out of the log: the free middle of a node, or trailing zeros otherwise.
fn hole_of(image: &[u8]) -> (usize, usize) {
    if let Some(n) = Node::parse(image) {
        return n.hole();
    }
    let used = image.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    (used, image.len() - used)
}

fn encode_op(out: &mut Vec<u8>, op: &Op<'_>) {
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
            out.push(TAG_PUT);
            out.extend_from_slice(&page.to_le_bytes());
            out.extend_from_slice(&(key.len() as u16).to_le_bytes());
            out.extend_from_slice(&(val.len() as u32).to_le_bytes());
            out.extend_from_slice(key);
            out.extend_from_slice(val);
        }
        Op::Del { page, key } => {
            out.push(TAG_DEL);
            out.extend_from_slice(&page.to_le_bytes());
            out.extend_from_slice(&(key.len() as u16).to_le_bytes());
            out.extend_from_slice(key);
        }
    }
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
}

/// Decodes the ops of a record payload; `None` if malformed.
pub fn decode_ops(payload: &[u8]) -> Option<Vec<OwnedOp>> {
    let mut c = Cursor { b: payload };
    let n = c.u16()? as usize;
    let mut ops = Vec::with_capacity(n);
    for _ in 0..n {
        let tag = c.u8()?;
        let page = c.u32()?;
        ops.push(match tag {
            TAG_IMAGE => {
                let len = c.u32()? as usize;
                let off = c.u32()? as usize;
                let hole = c.u32()? as usize;
                if off.checked_add(hole)? > len || len > MAX_RECORD {
                    return None;
                }
                let mut img = vec![0u8; len];
                img[..off].copy_from_slice(c.take(off)?);
                img[off + hole..].copy_from_slice(c.take(len - off - hole)?);
                OwnedOp::Image(page, img)
            }
            TAG_PUT => {
                let kl = c.u16()? as usize;
                let vl = c.u32()? as usize;
                OwnedOp::Put(page, c.take(kl)?.to_vec(), c.take(vl)?.to_vec())
            }
            TAG_DEL => {
                let kl = c.u16()? as usize;
                OwnedOp::Del(page, c.take(kl)?.to_vec())
            }
            _ => return None,
        });
    }
    if !c.b.is_empty() {
        return None;
    }
    Some(ops)
}

struct State {
    /// Encoded records not yet handed to the file; `buf[0]` is at LSN `buf_start`.
    buf: Vec<u8>,
    buf_start: Lsn,
    /// End of the last appended record: the next record starts here.
    next: Lsn,
}

struct LogFile {
    file: File,
    /// LSN stored at file offset [`LOG_HDR`].
    base: Lsn,
}

impl LogFile {
    fn offset(&self, lsn: Lsn) -> u64 {
        LOG_HDR + (lsn - self.base)
    }
}

/// The tree's write-ahead (redo) log. Give it to the pool's builder (`.wal(log.clone())`) and to the tree.
pub struct TreeWal {
    path: PathBuf,
    state: Mutex<State>,
    io: Mutex<LogFile>,
    /// Everything before this LSN is on stable storage.
    durable: AtomicU64,
    /// The latest checkpoint's redo point: a leaf whose page LSN is at or below it is logged as a full image.
    redo_lsn: AtomicU64,
    failed: OnceLock<Arc<str>>,
    /// fsyncs of the log done so far (commits and WAL-rule flushes).
    syncs: AtomicU64,
}

impl std::fmt::Debug for TreeWal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreeWal")
            .field("path", &self.path)
            .field("durable", &self.durable.load(Ordering::Relaxed))
            .finish()
    }
}

fn header(base: Lsn) -> [u8; LOG_HDR as usize] {
    let mut h = [0u8; LOG_HDR as usize];
    h[..8].copy_from_slice(MAGIC);
    h[8..16].copy_from_slice(&base.to_le_bytes());
    let crc = crc32c::crc32c(&h[..16]);
    h[16..20].copy_from_slice(&crc.to_le_bytes());
    h
}

fn log_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Log(format!("{what}: {e}"))
}

fn sync_dir(path: &Path) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| log_err("fsync log directory", e))
}

/// Reads the record at the reader's position; `None` at the end of the valid log (short, torn or foreign bytes).
fn read_record(r: &mut impl Read, expect_lsn: Lsn, buf: &mut Vec<u8>) -> Option<()> {
    let mut hdr = [0u8; REC_HDR];
    r.read_exact(&mut hdr).ok()?;
    let crc = u32::from_le_bytes(hdr[0..4].try_into().ok()?);
    let len = u32::from_le_bytes(hdr[4..8].try_into().ok()?) as usize;
    let lsn = u64::from_le_bytes(hdr[8..16].try_into().ok()?);
    if !(REC_HDR + 2..=MAX_RECORD).contains(&len) || lsn != expect_lsn {
        return None;
    }
    buf.clear();
    buf.resize(len - REC_HDR, 0);
    r.read_exact(buf).ok()?;
    let mut h = crc32c::crc32c(&hdr[4..]);
    h = crc32c::crc32c_append(h, buf);
    (h == crc).then_some(())
}

impl TreeWal {
    /// Opens the log at `path`, creating an empty one if the file is missing or empty. Finds the end of the valid
    /// records and cuts off anything after it (a torn tail), so new records never mix with stale bytes.
    pub fn open(path: impl AsRef<Path>) -> Result<Arc<TreeWal>> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| log_err("open log", e))?;
        let len = file.metadata().map_err(|e| log_err("stat log", e))?.len();
        let base = if len < LOG_HDR {
            // Missing, or a crash while the header of a new log was being written: no record can exist yet.
            file.write_all_at(&header(FIRST_LSN), 0)
                .and_then(|()| file.sync_all())
                .map_err(|e| log_err("write log header", e))?;
            sync_dir(&path)?;
            FIRST_LSN
        } else {
            let mut h = [0u8; LOG_HDR as usize];
            file.read_exact_at(&mut h, 0)
                .map_err(|e| log_err("read log header", e))?;
            let base = u64::from_le_bytes(h[8..16].try_into().expect("8 bytes"));
            if &h[..8] != MAGIC || h != header(base) {
                return Err(Error::Log(format!("{} has no valid log header", path.display())));
            }
            base
        };
        let len = len.max(LOG_HDR);
        let wal = TreeWal {
            path,
            state: Mutex::new(State {
                buf: Vec::new(),
                buf_start: base,
                next: base,
            }),
            io: Mutex::new(LogFile { file, base }),
            durable: AtomicU64::new(base),
            redo_lsn: AtomicU64::new(base),
            failed: OnceLock::new(),
            syncs: AtomicU64::new(0),
        };
        let end = wal.scan(|_, _| Ok(()))?;
        {
            let io = wal.io.lock();
            let valid = io.offset(end);
            if valid < len {
                io.file
                    .set_len(valid)
                    .and_then(|()| io.file.sync_all())
                    .map_err(|e| log_err("cut torn log tail", e))?;
            }
        }
        let mut st = wal.state.lock();
        st.buf_start = end;
        st.next = end;
        drop(st);
        wal.durable.store(end, Ordering::Release);
        Ok(Arc::new(wal))
    }

    /// Calls `f(end_lsn, ops)` for every valid record from the start of the file, in order; returns the end of
    /// the valid log. Used by recovery (and by `open` to find the end).
    pub fn scan(&self, mut f: impl FnMut(Lsn, Vec<OwnedOp>) -> Result<()>) -> Result<Lsn> {
        let io = self.io.lock();
        let file = io.file.try_clone().map_err(|e| log_err("clone log fd", e))?;
        let base = io.base;
        drop(io);
        let mut r = BufReader::with_capacity(1 << 20, file);
        std::io::Seek::seek(&mut r, std::io::SeekFrom::Start(LOG_HDR)).map_err(|e| log_err("seek log", e))?;
        let mut lsn = base;
        let mut buf = Vec::new();
        while read_record(&mut r, lsn, &mut buf).is_some() {
            let Some(ops) = decode_ops(&buf) else { break };
            let end = lsn + (REC_HDR + buf.len()) as u64;
            f(end, ops)?;
            lsn = end;
        }
        Ok(lsn)
    }

    fn check_failed(&self) -> Result<()> {
        match self.failed.get() {
            Some(why) => Err(Error::Log(format!("log failed earlier: {why}"))),
            None => Ok(()),
        }
    }

    fn fail(&self, what: &str, e: std::io::Error) -> Error {
        let msg: Arc<str> = format!("{what}: {e}").into();
        let _ = self.failed.set(msg.clone());
        Error::Log(msg.to_string())
    }

    /// Appends one atomic record of `ops`; returns its end LSN (to stamp on every page it changed). Not durable
    /// until [`TreeWal::flush_lsn`] or [`TreeWal::commit`].
    pub fn append(&self, ops: &[Op<'_>]) -> Result<Lsn> {
        self.check_failed()?;
        let mut st = self.state.lock();
        let lsn = self.encode_locked(&mut st, ops);
        let big = st.buf.len() > BUF_SOFT_MAX;
        drop(st);
        if big {
            self.try_write_out()?;
        }
        Ok(lsn)
    }

    /// Appends a change to one leaf, as `op` or, if the page was last logged at or before the checkpoint redo
    /// point (`page_lsn`), as the full `image` (full-page write). The choice is made under the log lock, so it
    /// cannot race with a checkpoint moving the redo point.
    pub fn append_leaf(&self, page_lsn: Lsn, page: PageNo, image: &[u8], op: Op<'_>) -> Result<Lsn> {
        self.check_failed()?;
        let mut st = self.state.lock();
        let lsn = if page_lsn <= self.redo_lsn.load(Ordering::Relaxed) {
            self.encode_locked(&mut st, &[Op::Image { page, bytes: image }])
        } else {
            self.encode_locked(&mut st, &[op])
        };
        let big = st.buf.len() > BUF_SOFT_MAX;
        drop(st);
        if big {
            self.try_write_out()?;
        }
        Ok(lsn)
    }

    fn encode_locked(&self, st: &mut State, ops: &[Op<'_>]) -> Lsn {
        let start = st.buf.len();
        let lsn = st.next;
        st.buf.extend_from_slice(&[0u8; REC_HDR]);
        st.buf.extend_from_slice(&(ops.len() as u16).to_le_bytes());
        for op in ops {
            encode_op(&mut st.buf, op);
        }
        let len = st.buf.len() - start;
        let rec = &mut st.buf[start..];
        rec[4..8].copy_from_slice(&(len as u32).to_le_bytes());
        rec[8..16].copy_from_slice(&lsn.to_le_bytes());
        let crc = crc32c::crc32c(&rec[4..]);
        rec[0..4].copy_from_slice(&crc.to_le_bytes());
        st.next = lsn + len as u64;
        st.next
    }

    /// The buffer grew large: writes it out (no fsync) unless another thread is writing already.
    fn try_write_out(&self) -> Result<()> {
        if let Some(io) = self.io.try_lock() {
            self.write_locked(&io, false)?;
        }
        Ok(())
    }

    /// Writes the buffered records to the file, in order (the caller holds `io`); with `sync`, fsyncs and
    /// advances the durable LSN. Returns the end of what was written.
    fn write_locked(&self, io: &LogFile, sync: bool) -> Result<Lsn> {
        self.check_failed()?;
        let (buf, start) = {
            let mut st = self.state.lock();
            let start = st.buf_start;
            st.buf_start = st.next;
            (std::mem::take(&mut st.buf), start)
        };
        let end = start + buf.len() as u64;
        if !buf.is_empty() {
            io.file
                .write_all_at(&buf, io.offset(start))
                .map_err(|e| self.fail("write log", e))?;
        }
        if sync {
            io.file.sync_data().map_err(|e| self.fail("fsync log", e))?;
            self.syncs.fetch_add(1, Ordering::Relaxed);
            self.durable.fetch_max(end, Ordering::AcqRel);
        }
        // Give the (now empty) allocation back so the next appends reuse it.
        let mut st = self.state.lock();
        if st.buf.is_empty() && st.buf.capacity() < buf.capacity() {
            let mut buf = buf;
            buf.clear();
            st.buf = buf;
        }
        Ok(end)
    }

    /// Makes every record up to `lsn` durable. Concurrent callers share one fsync (group commit): whoever gets
    /// the file writes and syncs everything appended so far, and the others find their LSN already durable.
    pub fn flush_lsn(&self, lsn: Lsn) -> Result<()> {
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
        let end = self.write_locked(&io, true)?;
        if end < lsn {
            return Err(Error::Log(format!(
                "asked to flush to LSN {lsn} beyond the end of the log ({end})"
            )));
        }
        Ok(())
    }

    /// Makes every record appended so far durable.
    pub fn commit(&self) -> Result<()> {
        let next = self.state.lock().next;
        self.flush_lsn(next)
    }

    /// End of the appended log.
    pub fn end_lsn(&self) -> Lsn {
        self.state.lock().next
    }

    /// Everything before this LSN is durable.
    pub fn durable_lsn(&self) -> Lsn {
        self.durable.load(Ordering::Acquire)
    }

    /// Starts a checkpoint: the current end becomes the redo point, and leaves changed from now on are logged as
    /// full images on their first change. Returns the redo point.
    pub fn begin_checkpoint(&self) -> Lsn {
        let st = self.state.lock();
        let redo = st.next;
        self.redo_lsn.store(redo, Ordering::Relaxed);
        redo
    }

    /// Finishes a checkpoint whose pages are all on disk: the log keeps only records from `redo` on, in a new file
    /// that atomically replaces the old one.
    pub fn truncate_before(&self, redo: Lsn) -> Result<()> {
        let mut io = self.io.lock();
        self.write_locked(&io, true)?;
        // Everything appended before we took `io` is in the file; later appends wait in the buffer.
        let written_end = self.state.lock().buf_start;
        if redo <= io.base {
            return Ok(());
        }
        let tail_len = (written_end - redo) as usize;
        let mut tail = vec![0u8; tail_len];
        io.file
            .read_exact_at(&mut tail, io.offset(redo))
            .map_err(|e| self.fail("read log tail", e))?;
        let tmp = self.path.with_extension("tmp");
        let new = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| self.fail("create new log", e))?;
        new.write_all_at(&header(redo), 0)
            .and_then(|()| new.write_all_at(&tail, LOG_HDR))
            .and_then(|()| new.sync_all())
            .map_err(|e| self.fail("write new log", e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| self.fail("rename new log", e))?;
        sync_dir(&self.path)?;
        *io = LogFile { file: new, base: redo };
        Ok(())
    }

    /// Number of log fsyncs so far (one per group commit or WAL-rule flush that had something to make durable).
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    /// Size of the log file in bytes (header included).
    pub fn file_len(&self) -> u64 {
        let io = self.io.lock();
        io.file.metadata().map(|m| m.len()).unwrap_or(0)
    }
}

impl bufpool::Wal for TreeWal {
    fn flush_to(&self, lsn: Lsn) -> bufpool::Result<()> {
        self.flush_lsn(lsn).map_err(|e| bufpool::Error::Wal {
            lsn,
            reason: e.to_string().into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        ];
        let mut out = (ops.len() as u16).to_le_bytes().to_vec();
        for op in &ops {
            encode_op(&mut out, op);
        }
        assert!(out.len() < 200, "the zero hole is not logged");
        let back = decode_ops(&out).unwrap();
        assert_eq!(
            back,
            vec![
                OwnedOp::Image(7, img.clone()),
                OwnedOp::Put(8, b"k".to_vec(), b"value".to_vec()),
                OwnedOp::Del(9, b"kk".to_vec()),
            ]
        );
        for cut in 0..out.len() {
            assert!(decode_ops(&out[..cut]).is_none());
        }
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
        // Tear the last record: reopen must stop before it and cut the tail.
        let len = std::fs::metadata(&path).unwrap().len();
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
}
