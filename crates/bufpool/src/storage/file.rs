//! `FileStorage`: a real file through `pread`/`pwrite`, with O_DIRECT where the filesystem allows it.
//!
//! Owns the probe: at open we ask for O_DIRECT; if the open is refused (EINVAL, as tmpfs did before Linux 6.6)
//! or the first aligned read is refused, the file is reopened buffered and [`StorageInfo::direct`] says so.
//! [`OpenMode::Buffered`] skips the probe (benchmarks of the OS page cache, or filesystems known not to support it).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt, OpenOptionsExt};
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
}

impl FileStorage {
    /// Opens or creates `path` for reading and writing, and its record sidecar `<path>.bpmeta`. Refuses anything
    /// but a regular file ([`io::ErrorKind::Unsupported`]): a block device reports length 0 and would be
    /// overwritten from its start. The pool then takes the file's lock ([`Storage::try_lock`]).
    pub fn open(path: impl AsRef<Path>, mode: OpenMode) -> io::Result<FileStorage> {
        let (file, direct) = open_probed(path.as_ref(), mode)?;
        let record = SidecarRecord::open(path.as_ref())?;
        Ok(FileStorage { file, direct, record })
    }
}

/// The sidecar file holding a data file's record (see `record.rs`): `<path>.bpmeta`, buffered I/O.
#[derive(Debug)]
pub(super) struct SidecarRecord {
    file: File,
}

impl SidecarRecord {
    /// Opens or creates the sidecar of `data`; a new sidecar's directory entry is made durable.
    pub(super) fn open(data: &Path) -> io::Result<SidecarRecord> {
        let path = sidecar_path(data);
        let created = !path.exists();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        if created {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                File::open(dir)?.sync_all()?;
            }
        }
        Ok(SidecarRecord { file })
    }
}

/// `<path>.tmp`, the whole name plus ".tmp": the temporary file a replacement of `path` is written to before it is
/// renamed over it (`with_extension` would give `pool.hot` and `pool.cold`, or `a.wal` and `a.log`, one
/// temporary file, and `resident.tmp` itself: R28-3 in RELIABILITY.md).
pub fn temp_path(path: &Path) -> PathBuf {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    PathBuf::from(tmp)
}

/// Creates `path` anew for reading and writing: `create_new` (O_EXCL, which follows no symbolic link), after
/// removing whatever a crashed writer or anyone else left under the name. Truncating what is there instead followed
/// a symbolic link and wrote into its target (R29-2 in RELIABILITY.md). For [`temp_path`]s.
pub fn create_anew(path: &Path) -> io::Result<File> {
    let create = || OpenOptions::new().read(true).write(true).create_new(true).open(path);
    match create() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => std::fs::remove_file(path).and_then(|()| create()),
        made => made,
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
/// Shared by every file-backed backend (this one and `uring.rs`) so they agree on when O_DIRECT is used.
pub(super) fn open_probed(path: &Path, mode: OpenMode) -> io::Result<(File, bool)> {
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
    // Some filesystems accept the flag at open and refuse the I/O; find out now, not on the first miss.
    let mut probe = AlignedBuf::zeroed(IO_ALIGN);
    file.read_at(&mut probe, 0)?;
    Ok(file)
}

/// `(device, inode)` of an open file: what [`Storage::identity`] reports for file-backed backends.
pub(super) fn file_identity(file: &File) -> Option<(u64, u64)> {
    let m = file.metadata().ok()?;
    Some((m.dev(), m.ino()))
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

    fn record_store(&self) -> Option<&dyn RecordStore> {
        Some(&self.record)
    }

    fn try_lock(&self) -> io::Result<()> {
        flock_exclusive(&self.file)
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
