//! The raw page file: `pages` pages of 4 KiB, each holding its self-check at offset 0 of the whole page (the
//! user region is the full page). Read by the limits (`raw-memory`, `raw-pread`, `raw-uring`) and by the simple
//! peers (`naive-lru`, `quick-cache`), which write their own counters back into it in place.
//!
//! Owns: preparing the file, opening it with O_DIRECT (buffered where the filesystem refuses, reported), and
//! counted page reads and writes.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use anyhow::{bail, Context, Result};
use bufpool::storage::AlignedBuf;

use crate::bench::driver::IoCounters;
use crate::bench::selfcheck;

/// Page size of the raw file.
pub const RAW_PAGE: usize = 4096;

/// Writes `pages` fresh pages to `path` and makes them durable.
pub fn prepare(path: &Path, pages: u32, seed: u64) -> Result<()> {
    // The caller names the file in the error (`bench::preparing`).
    let mut f = File::create(path)?;
    let chunk_pages = 256usize;
    let mut buf = vec![0u8; chunk_pages * RAW_PAGE];
    let mut page = 0u32;
    while page < pages {
        let n = (pages - page).min(chunk_pages as u32) as usize;
        for (i, p) in buf[..n * RAW_PAGE].chunks_exact_mut(RAW_PAGE).enumerate() {
            p.fill(0);
            selfcheck::init(p, seed, page + i as u32);
        }
        f.write_all(&buf[..n * RAW_PAGE])?;
        page += n as u32;
    }
    f.sync_all()?;
    Ok(())
}

/// The raw file opened for page I/O.
pub struct RawFile {
    file: File,
    /// True when the file bypasses the page cache.
    pub direct: bool,
    /// What this file's users did to the device.
    pub counters: IoCounters,
}

impl RawFile {
    /// Opens `path` with O_DIRECT, falling back to buffered I/O if the filesystem refuses it.
    pub fn open(path: &Path) -> Result<RawFile> {
        let (file, direct) = open_direct_or_buffered(path)?;
        Ok(RawFile {
            file,
            direct,
            counters: IoCounters::default(),
        })
    }

    /// The raw file descriptor (for io_uring).
    pub fn fd(&self) -> i32 {
        use std::os::fd::AsRawFd;
        self.file.as_raw_fd()
    }

    /// Reads page `page` into `buf` (one aligned page), counted.
    pub fn read_page(&self, page: u32, buf: &mut [u8]) -> Result<()> {
        debug_assert_eq!(buf.len(), RAW_PAGE);
        self.counters.read(u64::from(page));
        let off = page as u64 * RAW_PAGE as u64;
        let n = read_full(&self.file, buf, off).with_context(|| format!("reading raw page {page}"))?;
        if n != RAW_PAGE {
            bail!("short read of raw page {page}: {n} bytes");
        }
        Ok(())
    }

    /// Writes `buf` (one aligned page) as page `page`, counted.
    pub fn write_page(&self, page: u32, buf: &[u8]) -> Result<()> {
        self.counters.write();
        self.file
            .write_all_at(buf, page as u64 * RAW_PAGE as u64)
            .with_context(|| format!("writing raw page {page}"))
    }
}

fn read_full(f: &File, buf: &mut [u8], off: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match f.read_at(&mut buf[done..], off + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Opens `path` read-write with O_DIRECT; if the open or a first aligned read is refused with EINVAL (tmpfs,
/// some overlay filesystems), reopens it buffered. Returns the file and whether it is direct.
pub fn open_direct_or_buffered(path: &Path) -> Result<(File, bool)> {
    let direct = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .and_then(|f| {
            let mut probe = AlignedBuf::zeroed(RAW_PAGE);
            f.read_at(&mut probe, 0).map(|_| f)
        });
    match direct {
        Ok(f) => Ok((f, true)),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
                .with_context(|| format!("opening {}", path.display()))?;
            Ok((f, false))
        }
        Err(e) => Err(e).with_context(|| format!("opening {} with O_DIRECT", path.display())),
    }
}
