//! `FileStorage`: a real file through `pread`/`pwrite`, with O_DIRECT where the filesystem allows it.
//!
//! Owns the probe: at open we ask for O_DIRECT; if the open is refused (EINVAL, as tmpfs did before Linux 6.6)
//! or the first aligned read is refused, the file is reopened buffered and [`StorageInfo::direct`] says so.
//! [`OpenMode::Buffered`] skips the probe (benchmarks of the OS page cache, or filesystems known not to support it).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use super::{read_full, Storage, StorageInfo};
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
}

impl FileStorage {
    /// Opens or creates `path` for reading and writing.
    pub fn open(path: impl AsRef<Path>, mode: OpenMode) -> io::Result<FileStorage> {
        let (file, direct) = open_probed(path.as_ref(), mode)?;
        Ok(FileStorage { file, direct })
    }
}

/// Opens or creates `path` read-write per `mode`, probing O_DIRECT; returns the file and whether it is direct.
/// Shared by every file-backed backend (this one and `uring.rs`) so they agree on when O_DIRECT is used.
pub(super) fn open_probed(path: &Path, mode: OpenMode) -> io::Result<(File, bool)> {
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
}
