//! `FileStorage`: a real file through `pread`/`pwrite`, with O_DIRECT where the filesystem allows it.
//!
//! Owns the probe: at open we ask for O_DIRECT; if the open is refused (EINVAL, as tmpfs did before Linux 6.6),
//! the first aligned read is refused, or the file system states a direct-I/O alignment coarser than the pool's
//! 4 KiB (`statx`; the read proves nothing on an empty file), the file is reopened buffered and
//! [`StorageInfo::direct`] says so.
//! [`OpenMode::Buffered`] skips the probe (benchmarks of the OS page cache, or filesystems known not to support it).
//!
//! Also owns the names: the record's sidecar `<path>.bpmeta` beside the name given (a symbolic link's, not its
//! target's: where existing databases have theirs), and durable names. An open that finds the data file or the
//! sidecar empty (just made) fsyncs the directory each really lives in before it returns (R33-10: through a link
//! into another directory the data file's was not); replacements of whole files (`replace_file`) go through a
//! temporary file, fsync, rename and the directory's fsync. Every directory fsync goes through `sync_dir`, where
//! the test hook `fail_dir_syncs` (feature `testing`) can fail it.
//!
//! And the lock (`flock`) an opener takes: for one opener per storage (`OpenerLock`, R41-3), given back by
//! `Storage::unlock` when the opener is done, and by the storage's drop.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use super::{read_full, RecordStore, Storage, StorageInfo};
use crate::page::{AlignedBuf, IO_ALIGN};

/// How to open a data file.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum OpenMode {
    /// O_DIRECT if the filesystem accepts it, buffered otherwise (the default).
    #[default]
    DirectOrBuffered,
    /// Always through the OS page cache.
    Buffered,
    /// O_DIRECT or fail.
    DirectOnly,
}

/// A data file accessed with positional reads and writes.
#[derive(Debug)]
pub struct FileStorage {
    file: File,
    direct: bool,
    record: SidecarRecord,
    area: LazyArea,
    lock: OpenerLock,
}

impl FileStorage {
    /// Opens or creates `path` for reading and writing, and its record sidecar `<path>.bpmeta`. Refuses anything
    /// but a regular file ([`io::ErrorKind::Unsupported`]): a block device reports length 0 and would be
    /// overwritten from its start. The pool then takes the file's lock ([`Storage::try_lock`]).
    pub fn open(path: impl AsRef<Path>, mode: OpenMode) -> io::Result<FileStorage> {
        let (file, direct, record) = open_with_record(path.as_ref(), mode)?;
        Ok(FileStorage {
            file,
            direct,
            record,
            area: LazyArea::new(path.as_ref(), direct),
            lock: OpenerLock::default(),
        })
    }
}

/// The sidecar file holding a data file's record (see `record.rs`): `<path>.bpmeta`, buffered I/O.
#[derive(Debug)]
pub(super) struct SidecarRecord {
    file: File,
}

/// Opens or creates the data file `path` (per `mode`, [`open_probed`]) and its sidecar; returns the file, whether
/// it is direct, and the sidecar. The name of each that is empty (made by this open, or by an earlier one whose
/// fsync failed or that a crash cut short) is made durable by an fsync of the directory it is in: the sidecar's,
/// beside `path`, and the data file's, in the directory the file really lives in ([`replaced_path`]'s parent),
/// which differs when `path` is a symbolic link into another directory (R33-10 in RELIABILITY.md: only a new
/// sidecar's directory was fsynced, so a crash soon after the create could lose the data file's name and keep its
/// sidecar). The sidecar stays beside `path`, where existing databases have theirs. One fsync when both are in one
/// directory; none for a file with pages and its record. Keyed on emptiness rather than on this open having made
/// the file, so an open whose fsync failed is not followed by one that trusts the name. For every file backend
/// ([`FileStorage`], `UringStorage`).
pub(super) fn open_with_record(path: &Path, mode: OpenMode) -> io::Result<(File, bool, SidecarRecord)> {
    let (file, direct) = open_probed(path, mode)?;
    let sidecar = sidecar_path(path);
    let record = SidecarRecord::open(&sidecar)?;
    let data_path = replaced_path(path);
    let sidecar_dir = (record.file.metadata()?.len() == 0).then(|| parent_dir(&sidecar));
    let data_dir = (file.metadata()?.len() == 0)
        .then(|| parent_dir(&data_path))
        .filter(|d| Some(*d) != sidecar_dir);
    sidecar_dir.into_iter().chain(data_dir).try_for_each(sync_dir)?;
    Ok((file, direct, record))
}

impl SidecarRecord {
    /// Opens or creates the sidecar at `path` (its directory is fsynced by [`open_with_record`]).
    fn open(path: &Path) -> io::Result<SidecarRecord> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        Ok(SidecarRecord { file })
    }
}

/// The directory holding `path`: its parent, or the current directory for a bare name.
fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Fsyncs the directory holding `path` (its parent, or the current directory for a bare name), making a name
/// created or renamed there durable: [`replace_file`]'s, and `bufpool-btree`'s for a new log and a log's rewrite.
pub fn sync_parent_dir(path: &Path) -> io::Result<()> {
    sync_dir(parent_dir(path))
}

/// Fsyncs directory `dir`, making the names created or renamed in it durable. The one place the file backends,
/// [`replace_file`] and [`sync_parent_dir`]'s callers do it, so `fail_dir_syncs` (feature `testing`) reaches every
/// such fsync.
fn sync_dir(dir: &Path) -> io::Result<()> {
    let dir = File::open(dir)?;
    #[cfg(feature = "testing")]
    if let Some(failing) = *FAILING_DIR.lock() {
        if file_identity(&dir) == Some(failing) {
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
    }
    dir.sync_all()
}

/// The directory whose fsyncs [`fail_dir_syncs`] fails, by `(device, inode)`.
#[cfg(feature = "testing")]
static FAILING_DIR: parking_lot::Mutex<Option<(u64, u64)>> = parking_lot::Mutex::new(None);

/// Test tooling (feature `testing`): from now on every fsync of directory `dir` that the file backends make (a new
/// data file's or sidecar's name, [`replace_file`]'s rename) fails with EIO, until called with `None`. `dir` is
/// matched by identity (device and inode), whatever name reaches it, so a test can tell which directory a call
/// fsyncs. One directory for the whole process: tests that use it run in a binary of their own.
#[cfg(feature = "testing")]
pub fn fail_dir_syncs(dir: Option<&Path>) -> io::Result<()> {
    let identity = match dir {
        Some(dir) => Some(file_identity(&File::open(dir)?).ok_or_else(|| io::Error::other("no identity"))?),
        None => None,
    };
    *FAILING_DIR.lock() = identity;
    Ok(())
}

/// `<path>.tmp`, the whole name plus ".tmp": the temporary file a replacement of `path` is written to before it is
/// renamed over it (`with_extension` would give `pool.hot` and `pool.cold`, or `a.wal` and `a.log`, one
/// temporary file, and `resident.tmp` itself: R28-3 in RELIABILITY.md).
pub fn temp_path(path: &Path) -> PathBuf {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    PathBuf::from(tmp)
}

/// The name a replacement of `path` by rename (a new file at [`temp_path`], then `rename`) must use: where the
/// symbolic links at `path` lead, so the file they name is replaced and not a link to it (R30-2 in RELIABILITY.md:
/// the rewrite of a tree's log opened through a link replaced the link with a regular file in the link's
/// directory, and left the log it led to stale, without the commits made after). `path` itself if it is not a
/// link. A link is followed to where it points whether or not anything is there yet (a link made for a file a
/// first save creates); links in the directories above are left to the rename, which goes through them.
pub fn replaced_path(path: &Path) -> PathBuf {
    let mut at = path.to_path_buf();
    // At most as many links as Linux follows in one lookup (MAXSYMLINKS); a loop of links ends there.
    for _ in 0..40 {
        match std::fs::read_link(&at) {
            // Relative to the link's directory; an absolute target replaces it.
            Ok(to) => at = at.parent().map_or_else(|| to.clone(), |dir| dir.join(&to)),
            Err(_) => break,
        }
    }
    at
}

/// Creates `path` anew for reading and writing: `create_new` (O_EXCL, which follows no symbolic link), after
/// removing whatever a crashed writer or anyone else left under the name. Truncating what is there instead followed
/// a symbolic link and wrote into its target (R29-2 in RELIABILITY.md). For [`temp_path`]s.
///
/// `like` is the file the new one is to replace by rename, if there is one: the new file gets its permission bits
/// exactly (made with them, so it is never open to more users than they allow, then set past the umask), as a
/// rewrite in place would have kept them (R30-3: a log made readable by its owner only became readable by all at
/// its first rewrite). Without it, the default mode less the umask, as any new file.
pub fn create_anew(path: &Path, like: Option<&std::fs::Metadata>) -> io::Result<File> {
    let mode = like.map(|m| m.permissions().mode() & 0o777);
    let create = || {
        let mut options = OpenOptions::new();
        options.read(true).write(true).create_new(true);
        if let Some(mode) = mode {
            options.mode(mode);
        }
        options.open(path)
    };
    let file = match create() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => std::fs::remove_file(path).and_then(|()| create()),
        made => made,
    }?;
    if let Some(mode) = mode {
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    Ok(file)
}

/// Replaces `path` with a file holding `bytes`, atomically and durably: written to the [`temp_path`] of the file
/// `path` names ([`replaced_path`]: through its symbolic links, R30-2) made anew ([`create_anew`], with the
/// permissions of the file it replaces, R30-3), fsynced, renamed over that file, and its directory fsynced. A crash
/// leaves the old file or the new one whole under the name, never a part of either; an error before the rename (a
/// full device, most likely) removes the temporary file, so it takes none of the space that was missing.
/// (`std::fs::write` truncates first: ENOSPC, or a power loss before the data reached the disk, left an empty
/// file, R30-21 in RELIABILITY.md.) Two replacements of one file at once may each take the other's temporary
/// file: callers that can race serialise themselves (`save_resident`, R30-4).
pub fn replace_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let path = &replaced_path(path);
    let tmp = temp_path(path);
    let written = create_anew(&tmp, std::fs::metadata(path).ok().as_ref()).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_parent_dir(path)
}

/// Deletes the data file at `path`, its record sidecar (`<path>.bpmeta`) and its doublewrite area (`<path>.bpdw`, if
/// any), then fsyncs their directory: how a
/// file opened by path starts over. Deleting the data file alone leaves a record whose written mark says pages were
/// synced, and the next open of an empty file there is refused (`Error::DataFileEmptied`, R34-20 in
/// RELIABILITY.md). Either file already gone is not an error; the file must not be open in a pool. A symbolic
/// link at `path` is deleted itself, not the file it leads to. The data file goes first: a crash in between
/// leaves the record, which refuses the open until this is called again.
pub fn remove_data_file(path: &Path) -> io::Result<()> {
    for name in [path.to_path_buf(), sidecar_path(path), area_path(path)] {
        match std::fs::remove_file(&name) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    sync_parent_dir(path)
}

/// `<data>.bpdw`: where a data file opened with [`crate::FileOptions::doublewrite`] keeps its doublewrite area.
pub fn area_path(data: &Path) -> PathBuf {
    let mut name = data.file_name().unwrap_or_default().to_os_string();
    name.push(".bpdw");
    data.with_file_name(name)
}

/// The doublewrite area beside the data file `data` ([`area_path`]) if there is one, opened for reading only: never
/// made, never changed (an open *without* the area looks there for a crash's copies: `files.rs`,
/// `refuse_pending_area`). With the area's path, for a message.
pub(crate) fn existing_area(data: &Path) -> io::Result<Option<(PathBuf, Box<dyn RecordStore>)>> {
    let path = area_path(data);
    match File::open(&path) {
        Ok(file) => Ok(Some((path, Box::new(SidecarRecord { file })))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// A file storage's doublewrite area: the sidecar [`area_path`] beside the name given, opened (or made, its directory
/// fsynced) on first need, for a file opened with [`crate::FileOptions::doublewrite`] only; a failed open is tried
/// again at the next need.
#[derive(Debug)]
pub(super) struct LazyArea {
    path: PathBuf,
    /// Whether the data file is direct: then so are the area's batch writes, where the file system allows it.
    direct: bool,
    area: std::sync::OnceLock<AreaFile>,
}

impl LazyArea {
    pub(super) fn new(data: &Path, direct: bool) -> LazyArea {
        LazyArea {
            path: area_path(data),
            direct,
            area: std::sync::OnceLock::new(),
        }
    }

    /// The area's store (two threads that open it at once keep the first one's).
    pub(super) fn store(&self) -> io::Result<Option<&dyn RecordStore>> {
        if let Some(area) = self.area.get() {
            return Ok(Some(area));
        }
        let area = AreaFile::open(&self.path, self.direct)?;
        if area.file.metadata()?.len() == 0 {
            sync_dir(parent_dir(&self.path))?;
        }
        Ok(Some(self.area.get_or_init(|| area)))
    }
}

/// The doublewrite area's sidecar, open twice: buffered for its reads and its notes (48 bytes each), and, for a
/// direct data file on a file system that takes it, `O_DIRECT` for its batches. A batch (its header block and its
/// pages' copies, one aligned transfer: `doublewrite.rs`) then goes to the device in one write without passing
/// through, or evicting, the page cache, as InnoDB writes its doublewrite buffer; the fdatasync that follows
/// (through either descriptor: one inode) flushes the device's cache. Measured against buffered writes of the same
/// batches under TPC-C: BENCHMARKS.md, "Session 57". Linux keeps the two views coherent: a direct write drops the
/// cached pages it overlaps, and the notes' blocks are never written directly.
#[derive(Debug)]
struct AreaFile {
    file: File,
    direct: Option<File>,
}

impl AreaFile {
    fn open(path: &Path, direct: bool) -> io::Result<AreaFile> {
        let file = SidecarRecord::open(path)?.file;
        let direct = match direct.then(|| open_direct(path)).transpose() {
            Ok(direct) => direct,
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => None,
            Err(e) => return Err(e),
        };
        Ok(AreaFile { file, direct })
    }
}

impl RecordStore for AreaFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        read_full(|b, o| self.file.read_at(b, o), buf, offset)
    }

    /// Directly when the descriptor exists and the transfer is aligned in memory, offset and length; otherwise
    /// through the page cache.
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let aligned = (buf.as_ptr() as usize).is_multiple_of(IO_ALIGN)
            && offset.is_multiple_of(IO_ALIGN as u64)
            && buf.len().is_multiple_of(IO_ALIGN);
        match &self.direct {
            Some(direct) if aligned => direct.write_all_at(buf, offset),
            _ => self.file.write_all_at(buf, offset),
        }
    }

    fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// `fallocate` of the area's bytes (its blocks reserved, reading as zeroes), unless they are allocated already.
    /// Best effort: where the file system cannot (`EOPNOTSUPP`) or the device has no room for them (`ENOSPC`,
    /// `EDQUOT`: a device nearly full, or a file grown since its area was sized) nothing is reserved, and the area
    /// grows as batches are written, a batch refused for space failing as any write refused for space does
    /// (retryable, nothing written in place). Blocks only reserved (ext4's unwritten extents) are turned into
    /// written ones by the ring's first lap.
    fn reserve(&self, len: u64) -> io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let meta = self.file.metadata()?;
        if meta.len() >= len && meta.blocks() * 512 >= len {
            return Ok(());
        }
        let len = libc::off_t::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: fallocate on a descriptor we own; no memory is involved.
        if unsafe { libc::fallocate(self.file.as_raw_fd(), 0, 0, len) } != 0 {
            let e = io::Error::last_os_error();
            let skip = [libc::EOPNOTSUPP, libc::ENOSYS, libc::ENOSPC, libc::EDQUOT];
            if !e.raw_os_error().is_some_and(|code| skip.contains(&code)) {
                return Err(e);
            }
        }
        Ok(())
    }
}

/// `<data>.bpmeta`: where a data file's record lives.
pub fn sidecar_path(data: &Path) -> PathBuf {
    let mut name = data.file_name().unwrap_or_default().to_os_string();
    name.push(".bpmeta");
    data.with_file_name(name)
}

impl RecordStore for SidecarRecord {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        read_full(|b, o| self.file.read_at(b, o), buf, offset)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.file.write_all_at(buf, offset)
    }

    fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// Opens or creates `path` read-write per `mode`, probing O_DIRECT; returns the file and whether it is direct.
/// Refuses anything but a regular file (see [`FileStorage::open`]).
/// Shared by every file-backed backend (through [`open_with_record`]) so they agree on when O_DIRECT is used.
fn open_probed(path: &Path, mode: OpenMode) -> io::Result<(File, bool)> {
    check_regular(path)?;
    let (file, direct) = open_probed_unlocked(path, mode)?;
    check_regular_file(&file)?;
    Ok((file, direct))
}

/// Takes an exclusive, non-blocking `flock` on `file` (released by [`unlock`] when the storage is dropped); a
/// conflict is [`io::ErrorKind::WouldBlock`].
pub(super) fn flock_exclusive(file: &File) -> io::Result<()> {
    // SAFETY: flock on a descriptor we own; no memory is involved.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let e = io::Error::last_os_error();
        return Err(if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            io::Error::new(io::ErrorKind::WouldBlock, "locked by another opener")
        } else {
            e
        });
    }
    Ok(())
}

/// A file storage's lock as [`Storage::try_lock`] takes it: the file's `flock`, and whether this storage already
/// holds it. `flock` grants a lock again through the open file description that holds it, so a storage shared
/// through an `Arc` (by two pools, two logs, a pool and a log) was locked by each opener, and two of them wrote
/// one file (R41-3 in RELIABILITY.md); held, the second opener of the same storage is refused as an opener of
/// another descriptor is ([`io::ErrorKind::WouldBlock`]). Released with the storage.
#[derive(Debug, Default)]
pub(super) struct OpenerLock {
    held: std::sync::atomic::AtomicBool,
}

impl OpenerLock {
    /// Takes `file`'s lock for the one opener of this storage: [`io::ErrorKind::WouldBlock`] if another opener
    /// of this storage or of another descriptor holds it.
    pub(super) fn take(&self, file: &File) -> io::Result<()> {
        use std::sync::atomic::Ordering::AcqRel;
        if self.held.swap(true, AcqRel) {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "locked by another opener of this storage (shared through an Arc)",
            ));
        }
        flock_exclusive(file).inspect_err(|_| self.held.store(false, std::sync::atomic::Ordering::Release))
    }

    /// Gives the lock back ([`Storage::unlock`]): its opener is done with the storage.
    pub(super) fn give_back(&self, file: &File) {
        unlock(file);
        self.held.store(false, std::sync::atomic::Ordering::Release);
    }
}

/// Releases the `flock` taken by [`flock_exclusive`], if any. A storage does this when dropped rather than
/// leaving it to the close of its descriptor: the lock belongs to the open file description, which the kernel
/// may keep a moment after our close (an io_uring worker that finished one of our requests drops its reference
/// to the file after posting the completion we reaped), and a reopen in that moment would find the file locked.
pub(super) fn unlock(file: &File) {
    // SAFETY: flock on a descriptor we own; no memory is involved. Unlocking an unlocked file is a no-op, and
    // an error here (EBADF, EINTR) leaves the lock to the descriptor's close, as before.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
}

/// What a path is, by its metadata (`std::fs::metadata`, which follows symbolic links): "regular file", "block
/// device", "character device", "directory", "fifo", "socket" or "special file"; the words of the refusals of a
/// path that is not a regular file ([`crate::Error::NotARegularFile`], and `bufpool-btree`'s log).
pub fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_file() {
        "regular file"
    } else if t.is_block_device() {
        "block device"
    } else if t.is_char_device() {
        "character device"
    } else if t.is_dir() {
        "directory"
    } else if t.is_fifo() {
        "fifo"
    } else if t.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

fn not_regular(kind: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("a {kind}, not a regular file: bufpool data files must be regular files"),
    )
}

fn check_regular(path: &Path) -> io::Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => Err(not_regular(file_kind(&m))),
        _ => Ok(()),
    }
}

fn check_regular_file(file: &File) -> io::Result<()> {
    let m = file.metadata()?;
    if m.is_file() {
        Ok(())
    } else {
        Err(not_regular(file_kind(&m)))
    }
}

fn open_probed_unlocked(path: &Path, mode: OpenMode) -> io::Result<(File, bool)> {
    if mode != OpenMode::Buffered {
        match open_direct(path) {
            Ok(file) => return Ok((file, true)),
            Err(e) if mode == OpenMode::DirectOnly => return Err(e),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
            Err(e) => return Err(e),
        }
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    Ok((file, false))
}

fn open_direct(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(libc::O_DIRECT)
        .open(path)?;
    // Some filesystems accept the flag at open and refuse the I/O; find out now, not on the first miss. The read
    // tells only where the file has bytes at offset 0: past the end of a file (a new, empty one) the kernel answers
    // 0 before it checks the transfer's alignment, so the alignment the file system states is asked too.
    let mut probe = AlignedBuf::zeroed(IO_ALIGN);
    file.read_at(&mut probe, 0)?;
    if let Some(align) = direct_io_alignment(&file) {
        if !align.takes(IO_ALIGN) {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
    }
    Ok(file)
}

/// What a file's direct I/O needs, as `statx` reports it (`STATX_DIOALIGN`, Linux 6.1): the alignment of a
/// transfer's buffer and of its offset and length, in bytes; 0 where the file takes no direct I/O.
#[derive(Clone, Copy, Debug)]
struct DirectIoAlignment {
    mem: u32,
    offset: u32,
}

impl DirectIoAlignment {
    /// Whether transfers whose buffer, offset and length are multiples of `align` are taken.
    fn takes(self, align: usize) -> bool {
        let fits = |a: u32| a != 0 && align.is_multiple_of(a as usize);
        fits(self.mem) && fits(self.offset)
    }
}

/// The direct-I/O alignment the file system states for `file`, or `None` where it states none (a kernel before
/// 6.1, a file system that does not fill it in, such as tmpfs, or `statx` refused): then the probe's read is all
/// there is to go by. R35-10 in RELIABILITY.md: a new file on XFS over a device of 8 KiB sectors passed the read
/// (0 bytes, at the end of file) and its first 4 KiB page write failed with EINVAL, which failed the file.
fn direct_io_alignment(file: &File) -> Option<DirectIoAlignment> {
    // SAFETY: `libc::statx` is a C struct of integers (and padding), for which all-zero bytes are a valid value.
    let mut buf: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: `statx` of a descriptor we own (an empty, NUL-terminated static path with AT_EMPTY_PATH) writes only
    // into `buf`, a properly aligned, writable `statx` that outlives the call.
    let rc = unsafe {
        libc::statx(
            file.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_DIOALIGN,
            &mut buf,
        )
    };
    (rc == 0 && buf.stx_mask & libc::STATX_DIOALIGN != 0).then_some(DirectIoAlignment {
        mem: buf.stx_dio_mem_align,
        offset: buf.stx_dio_offset_align,
    })
}

/// Reads up to `buf.len()` bytes of `file` at `offset` as the device holds them, past the page cache
/// ([`Storage::read_device_at`]; fewer only at the end of the file). After a failed fsync Linux keeps the written
/// pages cached and clean, and every buffered read, in this process or a later one, returns bytes the device
/// never took (R43-O5, R46-10 in RELIABILITY.md). So: the file again through `/proc/self/fd` with O_DIRECT (its own
/// open file description: the caller's descriptor and its flags are untouched), the whole 4 KiB blocks around the
/// range read into an aligned buffer; the kernel writes the range's dirty pages back before it reads the device,
/// and never serves a direct read from cached pages. Where O_DIRECT is refused (a file system without it, or a
/// direct-I/O alignment coarser than 4 KiB; no `/proc`), the range's clean cached pages are dropped
/// (`posix_fadvise(DONTNEED)`, which writes dirty ones back first) and it is read through the cache, which then
/// reads the device for the pages that went; a page the kernel keeps (locked, mapped, under write-back) reads as
/// cached. On tmpfs either way reads the page cache, which is all the file there is. Errors of the device's read
/// are returned, never hidden by the cache's bytes.
pub fn read_past_cache(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let align = IO_ALIGN as u64;
    let from = offset / align * align;
    let to = (offset + buf.len() as u64).div_ceil(align) * align;
    let direct = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(format!("/proc/self/fd/{}", file.as_raw_fd()));
    if let Ok(direct) = direct {
        let mut blocks = AlignedBuf::zeroed((to - from) as usize);
        match read_full(|b, o| direct.read_at(b, o), &mut blocks, from) {
            Ok(n) => {
                let skip = (offset - from) as usize;
                let n = n.saturating_sub(skip).min(buf.len());
                buf[..n].copy_from_slice(&blocks[skip..skip + n]);
                return Ok(n);
            }
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
            Err(e) => return Err(e),
        }
    }
    // SAFETY: `posix_fadvise` on a descriptor `file` owns, for the call's duration, reads and writes no memory of
    // ours; its advice changes only what the kernel caches.
    let rc = unsafe {
        libc::posix_fadvise(
            file.as_raw_fd(),
            from as libc::off_t,
            (to - from) as libc::off_t,
            libc::POSIX_FADV_DONTNEED,
        )
    };
    // Advice, not a promise: refused (a descriptor of a pipe, say), the read below is through the cache.
    let _ = rc;
    read_full(|b, o| file.read_at(b, o), buf, offset)
}

/// `(device, inode)` of an open file: what [`Storage::identity`] reports for file-backed backends.
pub(super) fn file_identity(file: &File) -> Option<(u64, u64)> {
    let m = file.metadata().ok()?;
    Some((m.dev(), m.ino()))
}

/// The link count of an open file: what [`Storage::links`] reports for file-backed backends.
pub(super) fn file_links(file: &File) -> Option<u64> {
    file.metadata().ok().map(|m| m.nlink())
}

impl Storage for FileStorage {
    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        read_full(|b, o| self.file.read_at(b, o), buf, offset)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.file.write_all_at(buf, offset)
    }

    fn read_device_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        read_past_cache(&self.file, buf, offset)
    }

    fn sync(&self) -> io::Result<()> {
        // fdatasync also persists the size change of an extending write, which is all a page file needs.
        self.file.sync_data()
    }

    fn info(&self) -> StorageInfo {
        StorageInfo {
            backend: "pread",
            direct: self.direct,
        }
    }

    fn identity(&self) -> Option<(u64, u64)> {
        file_identity(&self.file)
    }

    fn links(&self) -> Option<u64> {
        file_links(&self.file)
    }

    fn record_store(&self) -> Option<&dyn RecordStore> {
        Some(&self.record)
    }

    fn doublewrite_store(&self) -> io::Result<Option<&dyn RecordStore>> {
        self.area.store()
    }

    fn try_lock(&self) -> io::Result<()> {
        self.lock.take(&self.file)
    }

    fn unlock(&self) {
        self.lock.give_back(&self.file)
    }
}

impl Drop for FileStorage {
    fn drop(&mut self) {
        unlock(&self.file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stated_direct_io_alignment_coarser_than_4k_or_none_refuses_direct_io() {
        let a = |mem, offset| DirectIoAlignment { mem, offset };
        assert!(a(512, 512).takes(IO_ALIGN));
        assert!(a(4, 4096).takes(IO_ALIGN));
        // R35-10: XFS on 8 KiB sectors.
        assert!(!a(512, 8192).takes(IO_ALIGN));
        assert!(!a(8192, 512).takes(IO_ALIGN));
        // Zero: the file takes no direct I/O.
        assert!(!a(0, 0).takes(IO_ALIGN));
    }

    #[test]
    #[cfg_attr(miri, ignore)] // O_DIRECT and io_uring are system calls Miri cannot run
    fn roundtrip_on_a_real_file() {
        let dir = tempfile::tempdir().unwrap();
        let s = FileStorage::open(dir.path().join("f"), OpenMode::DirectOrBuffered).unwrap();
        let mut page = AlignedBuf::zeroed(4096);
        page.fill(0x5a);
        s.write_at(&page, 8192).unwrap();
        s.sync().unwrap();
        assert_eq!(s.len().unwrap(), 12288);
        let mut back = AlignedBuf::zeroed(4096);
        assert_eq!(s.read_at(&mut back, 8192).unwrap(), 4096);
        assert!(back.iter().all(|&b| b == 0x5a));
        assert_eq!(s.read_at(&mut back, 12288).unwrap(), 0, "end of file reads nothing");
        assert!(s.identity().is_some());
    }

    /// `read_device_at` of a buffered file (a log's storage) takes any offset and length, O_DIRECT underneath
    /// (here: `/tmp`'s file system, and tmpfs at `/dev/shm` where there is one), reads what was written, short only
    /// at the end of the file, and leaves the storage's own descriptor buffered.
    #[test]
    #[cfg_attr(miri, ignore)] // O_DIRECT is a system call Miri cannot run
    fn a_read_of_the_device_takes_unaligned_ranges_and_is_short_only_at_the_end() {
        let shm = Path::new("/dev/shm");
        let dirs = [
            Some(tempfile::tempdir().unwrap()),
            shm.is_dir().then(|| tempfile::tempdir_in(shm).unwrap()),
        ];
        for dir in dirs.iter().flatten() {
            let s = FileStorage::open(dir.path().join("f"), OpenMode::Buffered).unwrap();
            let bytes: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
            s.write_at(&bytes, 0).unwrap();
            s.sync().unwrap();
            for (at, len) in [(0, 128), (4096, 128), (5000, 3000), (4095, 2), (9_990, 64), (10_000, 8)] {
                let mut back = vec![0u8; len];
                let n = s.read_device_at(&mut back, at as u64).unwrap();
                let want = &bytes[at.min(10_000)..(at + len).min(10_000)];
                assert_eq!(&back[..n], want, "{}: {len} bytes at {at}", dir.path().display());
            }
            // Still buffered: an unaligned write goes through.
            s.write_at(&[7; 3], 1).unwrap();
        }
    }

    /// The lock goes with the storage, even while another reference to its open file description lives on (as
    /// an io_uring worker's does for a moment after the completion we reaped): a reopen right after the drop
    /// must find the file unlocked.
    #[test]
    #[cfg_attr(miri, ignore)] // flock is a system call Miri cannot run
    fn dropping_the_storage_releases_its_lock_though_the_file_lives_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let first = FileStorage::open(&path, OpenMode::Buffered).unwrap();
        first.try_lock().unwrap();
        let lingering = first.file.try_clone().unwrap(); // the same open file description
        let second = FileStorage::open(&path, OpenMode::Buffered).unwrap();
        assert_eq!(second.try_lock().unwrap_err().kind(), io::ErrorKind::WouldBlock);
        drop(first);
        second.try_lock().expect("the dropped storage released its lock");
        drop(lingering);
    }
}
