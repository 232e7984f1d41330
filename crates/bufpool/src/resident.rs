//! What the pool holds, and warm restarts: [`BufferPool::resident_pages`] lists the resident pages (in the manner
//! of PostgreSQL's `pg_buffercache`), [`BufferPool::save_resident`] writes their ids to a file and
//! [`BufferPool::prewarm`] reads those pages back into a new pool (InnoDB's buffer pool dump and load,
//! `pg_prewarm`'s autoprewarm).
//!
//! Owns [`ResidentPage`], [`ResidentList`] and the resident-list file format. It opens with `BPRESID` and a
//! version digit, then the count (`u64`, little endian), that many entries, and a CRC-32C of everything before it:
//! - version 3 (written now): after the count, the open files (`u32` count, then for each its id and the identity
//!   its pages carry, `u32` each: [`ListedFile`]), then the entries as in version 2;
//! - version 2 (still read): each entry is 24 bytes, the page id (`u64`: `PageId::as_u64`, so file id and page
//!   number), its page LSN (`u64`), the frame that held it (`u32`) and flags (`u32`: bit 0 dirty, bit 1 latched),
//!   as [`BufferPool::resident_pages`] saw them, for `bufpool inspect --pool`;
//! - version 1 (still read): each entry is the page id alone.
//!
//! The file is written to `<path>.tmp` (made anew: whatever is under that name, a symbolic link included, is
//! removed first, never written through), synced and renamed over `path` (over the file a symbolic link at
//! `path` leads to, not the link: R30-2), so a crash leaves the previous list or the new one; a failed write
//! removes `<path>.tmp` ([`crate::storage::replace_file`]).
//!
//! Page ids name files by [`FileId`], which lasts one open: a restarted engine may open its files in another order,
//! or without persistent ids ([`crate::FileOptions::id`]; `bufpool-btree`'s trees take the pool's next free id).
//! So a version 3 list also names each file by the identity its record stamps into every page (`FileEntry::stamp`,
//! random per file, kept in the sidecar), and [`BufferPool::prewarm`] reads a page from the open file that has the
//! identity now: the one under the saved id if it has it, else the one open file that does (R30-O4 in
//! RELIABILITY.md). A file with no identity (unbound, or one a list of version 1 or 2 names) is found by its id as
//! before. Pages of files not open, and pages past a file's end, are skipped. The list holds ids only: pages are
//! read from their files, verified as every read is.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;

use crate::error::{Error, Result};
use crate::frame::{LOCK_MASK, UNLATCHED};
use crate::page::{FileId, Lsn, PageId};
use crate::policy::FrameIdx;
use crate::pool::BufferPool;

/// The magic's first seven bytes; the eighth is the format version, an ASCII digit.
const MAGIC: &[u8; 7] = b"BPRESID";
/// The version [`BufferPool::save_resident`] writes.
const VERSION: u8 = 3;
/// Bytes per entry of each version (index: version).
const ENTRY_BYTES: [usize; 4] = [0, 8, 24, 24];
/// Bytes per file of a version 3 list's file table: id and identity.
const FILE_BYTES: usize = 8;
const DIRTY: u32 = 1;
const LATCHED: u32 = 2;
/// Most pages a resident list may name: far above any pool (frame indices are `u32`), low enough that a corrupt
/// count cannot make `prewarm` allocate without bound.
const LIST_PAGES_MAX: u64 = u32::MAX as u64;

/// One resident page ([`BufferPool::resident_pages`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResidentPage {
    /// The page.
    pub page: PageId,
    /// The frame holding it.
    pub frame: FrameIdx,
    /// Changed since it was last written.
    pub dirty: bool,
    /// Latched (by a guard, or by the pool's own I/O) at the moment of the scan.
    pub latched: bool,
    /// Its page LSN.
    pub lsn: Lsn,
}

/// A resident list as [`read_resident_list`] decodes it: the format version, the files open when it was saved and
/// the pages it names.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResidentList {
    /// The file format's version (1: page ids only; 2: with frame, dirty, latched and LSN; 3: with the files).
    pub version: u8,
    /// The files open when the list was saved, in id order (empty in a version 1 or 2 list).
    pub files: Vec<ListedFile>,
    /// The pages named, in the order saved (page order).
    pub pages: Vec<ListedPage>,
}

/// One file of a [`ResidentList`]: the id it had when the list was saved, and the identity its pages carry (0 for
/// a file without one, an unbound file), by which [`BufferPool::prewarm`] finds it again under another id.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListedFile {
    /// Its id when the list was saved.
    pub file: FileId,
    /// The file identity stamped into its pages (0: none).
    pub identity: u32,
}

/// One page of a [`ResidentList`]: what the pool recorded about it when the list was saved. Everything but the
/// page is `None` in a version 1 list, which holds page ids only.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListedPage {
    /// The page.
    pub page: PageId,
    /// The frame that held it.
    pub frame: Option<FrameIdx>,
    /// Whether it was dirty.
    pub dirty: Option<bool>,
    /// Whether it was latched at the moment of the scan.
    pub latched: Option<bool>,
    /// Its page LSN.
    pub lsn: Option<Lsn>,
}

/// Reads a list written by [`BufferPool::save_resident`] (either version), without a pool: for tools that show
/// what a pool held (`bufpool inspect --pool`). A file that is not one (bad magic or version, bad checksum,
/// truncated) is [`Error::ResidentList`], as is one that cannot be read, and a path that is not a regular file
/// (a FIFO, a device: refused at once, never waited on or read without end, R46-2).
pub fn read_resident_list(path: impl AsRef<Path>) -> Result<ResidentList> {
    let path = path.as_ref();
    let bytes = read_list_file(path).map_err(|e| list_error(path, e))?;
    decode(&bytes).ok_or_else(|| Error::ResidentList {
        path: path.to_path_buf(),
        reason: "not a resident list, or damaged (magic, version, length or checksum)".into(),
    })
}

/// What [`BufferPool::prewarm`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Prewarmed {
    /// Pages the list named.
    pub listed: usize,
    /// Pages now resident that were read from storage.
    pub loaded: usize,
    /// Pages that were resident already.
    pub already_resident: usize,
    /// Pages skipped: their file is not open, they are past its end, the pool was full, or the read failed.
    pub skipped: usize,
}

/// Held by a save while it writes and renames its temporary file: one save at a time in the process, every
/// pool's. Two saves of one list at once made the same `<path>.tmp`; the second removed the first's and made its
/// own, and the first renamed that one, still being written, over the list (a reader found no list) or failed
/// (R30-4 in RELIABILITY.md). Saves are rare (at shutdown, now and then): waiting for another costs nothing that
/// matters. Another process saving the same list at the same time is not excluded.
static SAVING: parking_lot::Mutex<()> = parking_lot::const_mutex(());

impl BufferPool {
    /// The pages resident now, in page order: page, frame, dirty, latched, LSN. A scan of the frame headers
    /// without latching them: a snapshot that may be stale by the time it returns.
    pub fn resident_pages(&self) -> Vec<ResidentPage> {
        let mut pages: Vec<ResidentPage> = (0..self.frames() as FrameIdx)
            .filter_map(|frame| {
                let h = self.header(frame);
                let page = h.page_id();
                (page != PageId::INVALID).then(|| ResidentPage {
                    page,
                    frame,
                    dirty: h.dirty.load(Relaxed),
                    latched: h.state.load() & LOCK_MASK != UNLATCHED,
                    lsn: h.lsn.load(Relaxed),
                })
            })
            .collect();
        pages.sort_by_key(|p| p.page);
        pages
    }

    /// Writes the resident pages to `path` (atomically: a temporary file, synced, renamed), for
    /// [`BufferPool::prewarm`] after a restart: their ids, and for inspection ([`read_resident_list`]) the frame,
    /// dirty and latched flags and LSN of each. Returns how many pages it named. Saves run one at a time in the
    /// process (every pool's), so two saves of one list at once each leave a whole list (R30-4). A file closed,
    /// dropped or opened while it runs is left out with its pages (R33-4).
    pub fn save_resident(&self, path: impl AsRef<Path>) -> Result<usize> {
        let path = path.as_ref();
        // The files open both before and after the pages are read, and only their pages: a file dropped (or
        // closed) meanwhile, or another opened under its id, left pages listed with no file in the table, or
        // under another file's identity, and `prewarm` read them from whichever file has the id after a restart
        // (R33-4).
        let before = self.open_identities();
        let mut pages = self.resident_pages();
        let mut files = self.open_identities();
        files.retain(|f| before.contains(f));
        files.sort_unstable();
        pages.retain(|p| files.iter().any(|&(id, _)| id == p.page.file()));
        let mut bytes =
            Vec::with_capacity(20 + files.len() * FILE_BYTES + pages.len() * ENTRY_BYTES[VERSION as usize] + 4);
        bytes.extend_from_slice(MAGIC);
        bytes.push(b'0' + VERSION);
        bytes.extend_from_slice(&(pages.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&(files.len() as u32).to_le_bytes());
        for (id, identity) in &files {
            bytes.extend_from_slice(&id.0.to_le_bytes());
            bytes.extend_from_slice(&identity.to_le_bytes());
        }
        for p in &pages {
            let flags = if p.dirty { DIRTY } else { 0 } | if p.latched { LATCHED } else { 0 };
            bytes.extend_from_slice(&p.page.as_u64().to_le_bytes());
            bytes.extend_from_slice(&p.lsn.to_le_bytes());
            bytes.extend_from_slice(&p.frame.to_le_bytes());
            bytes.extend_from_slice(&flags.to_le_bytes());
        }
        let crc = crc32c::crc32c(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        // Through `<path>.tmp` made anew, never through what was under that name (R28-3, R29-2), with the
        // permissions of the list it replaces (R30-3), and removed if the write fails (R30-21); one save at a time
        // (R30-4).
        let _one_at_a_time = SAVING.lock();
        crate::storage::replace_file(path, &bytes).map_err(|e| list_error(path, e))?;
        Ok(pages.len())
    }

    /// Reads the pages a [`BufferPool::save_resident`] list names, in page order and in batches
    /// ([`BufferPool::read_many`]), up to the pool's frame count. Pages of files not open (under the saved ids),
    /// past their file's end, or that fail to read are skipped and counted; a list that is not one (bad magic, bad
    /// checksum, truncated) is [`Error::ResidentList`], as is a list that cannot be read.
    pub fn prewarm(&self, path: impl AsRef<Path>) -> Result<Prewarmed> {
        let list = read_resident_list(path)?;
        let now = self.files_now(&list.files);
        let pages = list
            .pages
            .into_iter()
            .map(|p| p.page)
            .filter(|p| *p != PageId::INVALID && p.file() <= FileId::MAX);
        let mut done = Prewarmed::default();
        let mut wanted: Vec<PageId> = Vec::new();
        // A version 3 list names the files of its pages; a page of a file it does not name has no file to be read
        // from (lists saved before R33-4's fix could have such pages).
        let unlisted = |page: &PageId| list.version >= 3 && !list.files.iter().any(|l| l.file == page.file());
        for page in pages {
            done.listed += 1;
            let page = match now.get(&page.file()) {
                Some(file) => file.map(|f| PageId::new(f, page.page_no())),
                None if unlisted(&page) => None,
                None => Some(page),
            };
            let open = page.filter(|p| self.file_pages(p.file()).is_ok_and(|n| p.page_no() < n));
            let Some(page) = open else {
                done.skipped += 1;
                continue;
            };
            if wanted.len() >= self.frames() {
                done.skipped += 1;
            } else if self.is_resident(page) {
                done.already_resident += 1;
            } else {
                wanted.push(page);
            }
        }
        for chunk in wanted.chunks(crate::BATCH_PAGES_MAX) {
            self.read_many(chunk, |_, guard| match guard {
                Ok(_) => done.loaded += 1,
                Err(_) => done.skipped += 1,
            });
        }
        Ok(done)
    }

    /// Where each file with an identity that a list names is open now: under its saved id if the file there has
    /// that identity, else under the id of the one open file that has it, else nowhere (`None`: its pages are
    /// skipped, not read from another file that has its old id). Files the map leaves out (no identity, or a list
    /// of version 1 or 2) are found by their saved id.
    fn files_now(&self, listed: &[ListedFile]) -> HashMap<FileId, Option<FileId>> {
        let open = self.open_identities();
        listed
            .iter()
            .filter(|l| l.identity != 0)
            .map(|l| {
                let now = if open.contains(&(l.file, l.identity)) {
                    Some(l.file)
                } else {
                    let mut with = open.iter().filter(|(_, stamp)| *stamp == l.identity);
                    match (with.next(), with.next()) {
                        (Some(&(id, _)), None) => Some(id),
                        _ => None,
                    }
                };
                (l.file, now)
            })
            .collect()
    }

    /// Each open file's id and the identity stamped into its pages (`FileEntry::stamp`; 0: none): what a list
    /// saves of them and what `prewarm` finds them by.
    fn open_identities(&self) -> Vec<(FileId, u32)> {
        self.core.files.all().iter().map(|f| (f.id, f.stamp)).collect()
    }

    fn is_resident(&self, page: PageId) -> bool {
        self.core.frames.lookup(page).is_some()
    }
}

/// A resident list, or `None` if `bytes` is not a whole, undamaged one of a known version.
fn decode(bytes: &[u8]) -> Option<ResidentList> {
    let body_len = bytes.len().checked_sub(4)?;
    let (body, crc) = bytes.split_at(body_len);
    if body.len() < 16 || &body[..7] != MAGIC || crc32c::crc32c(body).to_le_bytes() != crc {
        return None;
    }
    let version = body[7].checked_sub(b'0')?;
    let entry = *ENTRY_BYTES.get(version as usize).filter(|&&n| n > 0)?;
    let count = u64::from_le_bytes(body[8..16].try_into().ok()?);
    let u64_at = |e: &[u8], at: usize| u64::from_le_bytes(e[at..at + 8].try_into().expect("8 bytes"));
    let u32_at = |e: &[u8], at: usize| u32::from_le_bytes(e[at..at + 4].try_into().expect("4 bytes"));
    let (files, entries) = if version >= 3 {
        let n = u32::from_le_bytes(body.get(16..20)?.try_into().ok()?) as usize;
        let table = body.get(20..20 + n.checked_mul(FILE_BYTES)?)?;
        let files = table
            .chunks_exact(FILE_BYTES)
            .map(|f| ListedFile {
                file: FileId(u32_at(f, 0)),
                identity: u32_at(f, 4),
            })
            .collect();
        (files, &body[20 + table.len()..])
    } else {
        (Vec::new(), &body[16..])
    };
    if count > LIST_PAGES_MAX || entries.len() as u64 != count.checked_mul(entry as u64)? {
        return None;
    }
    let pages = entries
        .chunks_exact(entry)
        .map(|e| {
            let page = PageId::from_u64(u64_at(e, 0));
            if version == 1 {
                return ListedPage {
                    page,
                    frame: None,
                    dirty: None,
                    latched: None,
                    lsn: None,
                };
            }
            let flags = u32_at(e, 20);
            ListedPage {
                page,
                lsn: Some(u64_at(e, 8)),
                frame: Some(u32_at(e, 16)),
                dirty: Some(flags & DIRTY != 0),
                latched: Some(flags & LATCHED != 0),
            }
        })
        .collect();
    Some(ResidentList { version, files, pages })
}

/// The bytes of the list file at `path`, which must be a regular file: opened without blocking and refused
/// otherwise (R46-2 in RELIABILITY.md: `std::fs::read` waited for ever for a FIFO's writer, and read a device that
/// never ends, `/dev/zero`, into memory until the allocator aborted the process), as data files are (R28-5). A
/// file that does not open with the magic is not read further: a data file given by mistake costs 8 bytes read,
/// not its size in memory.
fn read_list_file(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    // `O_NONBLOCK` changes nothing for a regular file's reads.
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "a {}, not a regular file: a resident list is a regular file",
                crate::storage::file_kind(&meta)
            ),
        ));
    }
    let mut bytes = Vec::new();
    (&mut file).take(MAGIC.len() as u64 + 1).read_to_end(&mut bytes)?;
    if bytes.starts_with(MAGIC) {
        file.read_to_end(&mut bytes)?;
    }
    Ok(bytes)
}

fn list_error(path: &Path, e: std::io::Error) -> Error {
    Error::ResidentList {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}
