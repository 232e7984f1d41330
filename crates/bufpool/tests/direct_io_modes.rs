//! Direct I/O against a device that refuses anything not aligned to its 4 KiB sectors, and the buffered path over
//! the same file (R34-O10). An ext4 filesystem made on a loop device with `--sector-size 4096` fails an O_DIRECT
//! transfer whose offset, length or buffer is not 4 KiB aligned with EINVAL: every I/O the pool and its two file
//! backends make must be aligned there, also the continuation of a read cut short by a torn last page. Pages
//! written direct are read buffered after a reopen in the other mode, and the reverse, checksums and the written
//! mark holding on both paths. Needs root and `losetup`, `mkfs.ext4`, `mount`; prints `SKIPPED` with the reason
//! otherwise. A binary of its own: it makes and removes a loop device.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use bufpool::storage::{uring_available, OpenMode};
use bufpool::{BufferPool, Error, IoBackend, PageId};

/// A loop device of 4 KiB logical sectors over an image file, with ext4 mounted on it; unmounted and detached on
/// drop.
struct SectorDevice {
    dev: String,
    mnt: PathBuf,
}

impl SectorDevice {
    fn new(dir: &Path) -> Result<SectorDevice, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root".into());
        }
        let image = dir.join("sectors.img");
        std::fs::File::create(&image)
            .and_then(|f| f.set_len(64 << 20))
            .map_err(|e| e.to_string())?;
        let out = Command::new("losetup")
            .args(["--sector-size", "4096", "-f", "--show"])
            .arg(&image)
            .output()
            .map_err(|e| format!("cannot run losetup: {e}"))?;
        if !out.status.success() {
            return Err(format!("losetup: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        let dev = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let mnt = dir.join("mnt");
        let device = SectorDevice { dev, mnt };
        std::fs::create_dir(&device.mnt).map_err(|e| e.to_string())?;
        run("mkfs.ext4", &["-q", "-F", "-b", "4096", &device.dev])?;
        run("mount", &[&device.dev, device.mnt.to_str().ok_or("path")?])?;
        Ok(device)
    }

    fn logical_block_size(&self) -> u64 {
        let name = Path::new(&self.dev).file_name().unwrap().to_str().unwrap().to_string();
        std::fs::read_to_string(format!("/sys/block/{name}/queue/logical_block_size"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for SectorDevice {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mnt).status();
        let _ = Command::new("losetup").args(["-d", &self.dev]).status();
    }
}

fn run(cmd: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {cmd}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{cmd}: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

fn new_pool(backend: IoBackend, mode: OpenMode) -> BufferPool {
    BufferPool::builder()
        .frames(16)
        .io_backend(backend)
        .open_mode(mode)
        .build()
        .unwrap()
}

/// Reads every page of `path` in `mode` and checks each against `want(n)` (its version).
fn check_all(backend: IoBackend, mode: OpenMode, path: &Path, pages: u32, want: impl Fn(u32) -> u64) {
    let pool = new_pool(backend, mode);
    let file = pool.open_file(path).unwrap();
    assert_eq!(
        pool.stats().files[0].direct,
        mode == OpenMode::DirectOnly,
        "{backend:?} {mode:?}"
    );
    assert_eq!(pool.file_pages(file).unwrap(), pages, "{backend:?} {mode:?}");
    for n in 0..pages {
        let g = pool
            .read(PageId::new(file, n))
            .unwrap_or_else(|e| panic!("{backend:?} {mode:?}: page {n}: {e}"));
        assert_eq!(common::check_page(&g, n), want(n), "{backend:?} {mode:?}: page {n}");
    }
    pool.close().unwrap();
}

#[test]
fn direct_and_buffered_opens_of_one_file_on_a_4k_sector_device_agree_and_a_torn_tail_is_typed() {
    let dir = tempfile::tempdir().unwrap();
    let device = match SectorDevice::new(dir.path()) {
        Ok(d) => d,
        Err(why) => {
            eprintln!("SKIPPED direct_and_buffered_opens_of_one_file_on_a_4k_sector_device: {why}");
            return;
        }
    };
    assert_eq!(device.logical_block_size(), 4096, "the loop device's sectors");
    let mut backends = vec![IoBackend::Pread];
    if uring_available() {
        backends.push(IoBackend::Uring);
    }
    for backend in backends {
        let path = device.mnt.join(format!("{backend:?}.db"));
        // Written direct, 20 pages.
        let pool = new_pool(backend, OpenMode::DirectOnly);
        let file = pool.open_file(&path).unwrap();
        assert!(pool.stats().files[0].direct, "{backend:?}: ext4 takes O_DIRECT");
        for n in 0..20 {
            common::fill_page(&mut pool.new_page(file).unwrap(), n, 1);
        }
        pool.close().unwrap();
        // Read buffered; half rewritten buffered.
        check_all(backend, OpenMode::Buffered, &path, 20, |_| 1);
        let pool = new_pool(backend, OpenMode::Buffered);
        let file = pool.open_file(&path).unwrap();
        for n in 0..10 {
            common::fill_page(&mut pool.write(PageId::new(file, n)).unwrap(), n, 2);
        }
        pool.close().unwrap();
        // Read direct: the buffered writes are there (the close synced them; O_DIRECT reads see them).
        check_all(backend, OpenMode::DirectOnly, &path, 20, |n| if n < 10 { 2 } else { 1 });

        // A torn extension: the file cut to 12 pages and 100 bytes of the 13th. The direct read of page 12 comes
        // back short (100 bytes); its continuation starts past the end of the file and must not be sent as a
        // misaligned O_DIRECT read (EINVAL): the page is a typed short read, as pages 13-19 past the end (the
        // written mark keeps them counted, R33-11).
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(12 * 4096 + 100)
            .unwrap();
        for mode in [OpenMode::DirectOnly, OpenMode::Buffered] {
            let pool = new_pool(backend, mode);
            let file = pool.open_file(&path).unwrap();
            assert_eq!(pool.file_pages(file).unwrap(), 20, "{backend:?} {mode:?}");
            for n in 0..12 {
                let want = if n < 10 { 2 } else { 1 };
                assert_eq!(common::check_page(&pool.read(PageId::new(file, n)).unwrap(), n), want);
            }
            for n in 12..20 {
                match pool.read(PageId::new(file, n)) {
                    Err(Error::ShortRead { got, .. }) => {
                        assert_eq!(got, if n == 12 { 100 } else { 0 }, "{backend:?} {mode:?}: page {n}")
                    }
                    other => panic!("{backend:?} {mode:?}: page {n}: {:?}", other.map(|_| ())),
                }
            }
            // A batch over the cut: each page its own outcome.
            let pages: Vec<PageId> = (8..16).map(|n| PageId::new(file, n)).collect();
            pool.drop_file(file).unwrap();
            let file = pool.open_file(&path).unwrap();
            let pages: Vec<PageId> = pages.iter().map(|p| PageId::new(file, p.page_no())).collect();
            pool.read_many(&pages, |i, g| {
                let n = 8 + i as u32;
                match g {
                    Ok(g) => {
                        assert!(n < 12, "{backend:?} {mode:?}: page {n} read whole");
                        assert_eq!(common::check_page(&g, n), if n < 10 { 2 } else { 1 });
                    }
                    Err(e) => assert!(
                        n >= 12 && matches!(e, Error::ShortRead { .. }),
                        "{backend:?} {mode:?}: page {n}: {e}"
                    ),
                }
            });
            pool.drop_file(file).unwrap();
        }
        assert!(path.exists() && bufpool::storage::sidecar_path(&path).exists());
        bufpool::storage::remove_data_file(&path).unwrap();
    }
}
