//! Pages are bound to their file, the page size is on disk, one opener per file, lost writes to new pages are
//! caught, devices are refused (issues 19 and 17).
//!
//! Before: a page carried nothing of its file, so after `x.db` was deleted and `y.db` reused its blocks, a fresh
//! pool read x's pages as y's with valid checksums; a file written with 8 KiB pages opened by a 4 KiB pool read
//! page 1 as a never-written page (`Ok`, zeroes); two pools could open and write one file; a new page whose write
//! the device dropped read back as zeroes with `Ok`; a block device opened as a data file reported 0 pages and
//! new pages overwrote its start. Now each page header carries the file's random identity (from its durable
//! record, the `.bpmeta` sidecar) and the page size; the record keeps a written mark; opens take an `flock`.

mod common;

use bufpool::{BufferPool, CorruptReason, Error, MemoryStorage, PageId};

fn pool(page_size: usize) -> BufferPool {
    BufferPool::builder().frames(32).page_size(page_size).build().unwrap()
}

#[test]
fn a_page_of_another_file_is_corrupt_not_served() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = (dir.path().join("x.db"), dir.path().join("y.db"));
    {
        let p = pool(4096);
        let (fx, fy) = (p.open_file(&x).unwrap(), p.open_file(&y).unwrap());
        for n in 0..4 {
            common::fill_page(&mut p.new_page(fx).unwrap(), n, 1);
            common::fill_page(&mut p.new_page(fy).unwrap(), n, 2);
        }
        p.close().unwrap();
    }
    // y's blocks now hold x's pages (x deleted, its blocks reused while y's writes were dropped).
    let xb = std::fs::read(&x).unwrap();
    let mut yb = std::fs::read(&y).unwrap();
    yb[4096..3 * 4096].copy_from_slice(&xb[4096..3 * 4096]);
    std::fs::write(&y, &yb).unwrap();
    let p = pool(4096);
    let fy = p.open_file(&y).unwrap();
    assert_eq!(common::check_page(&p.read(PageId::new(fy, 0)).unwrap(), 0), 2);
    for n in 1..3 {
        match p.read(PageId::new(fy, n)).map(|g| g.len()) {
            Err(Error::Corrupt {
                reason: CorruptReason::ForeignFile { stored, expected },
                ..
            }) => assert_ne!(stored, expected),
            other => panic!("page {n} of x read from y: {other:?}"),
        }
    }
    assert_eq!(common::check_page(&p.read(PageId::new(fy, 3)).unwrap(), 3), 2);
}

#[test]
fn a_foreign_page_in_a_memory_storage_is_corrupt() {
    let (a, b) = (MemoryStorage::new(), MemoryStorage::new());
    let a = std::sync::Arc::new(a);
    let b = std::sync::Arc::new(b);
    let p = pool(4096);
    let (fa, fb) = (p.open_storage(a.clone()).unwrap(), p.open_storage(b.clone()).unwrap());
    common::fill_page(&mut p.new_page(fa).unwrap(), 0, 1);
    common::fill_page(&mut p.new_page(fb).unwrap(), 0, 2);
    p.close().unwrap();
    let page_of_a = a.snapshot();
    b.with_bytes(|bytes| bytes.copy_from_slice(&page_of_a));
    let p = pool(4096);
    let fb = p.open_storage(b.clone()).unwrap();
    let r = p.read(PageId::new(fb, 0)).map(|g| g.len());
    assert!(
        matches!(
            r,
            Err(Error::Corrupt {
                reason: CorruptReason::ForeignFile { .. },
                ..
            })
        ),
        "{r:?}"
    );
    // A copy of the image without its record is unbound: served (the documented compatible case).
    let p2 = pool(4096);
    let copy = p2.open_storage(MemoryStorage::from_bytes(a.snapshot())).unwrap();
    assert_eq!(common::check_page(&p2.read(PageId::new(copy, 0)).unwrap(), 0), 1);
}

#[test]
fn a_file_of_another_page_size_is_refused_naming_both_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.db");
    {
        let p = pool(8192);
        let f = p.open_file(&path).unwrap();
        for n in 0..3 {
            common::fill_page(&mut p.new_page(f).unwrap(), n, 1);
        }
        p.close().unwrap();
    }
    let p = pool(4096);
    let err = p.open_file(&path).unwrap_err();
    assert!(
        matches!(
            err,
            Error::PageSizeMismatch {
                on_disk: 8192,
                pool: 4096,
                ..
            }
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains("8192") && text.contains("4096"), "{text}");
    // Without its record (an unbound copy), the first page's header still names the size at open...
    let bytes = std::fs::read(&path).unwrap();
    let e = p.open_storage(MemoryStorage::from_bytes(bytes.clone())).unwrap_err();
    assert!(
        matches!(
            e,
            Error::PageSizeMismatch {
                on_disk: 8192,
                pool: 4096,
                ..
            }
        ),
        "{e}"
    );
    // ...and at read, a page whose header names another size is refused naming both.
    let mut first_zero = bytes;
    first_zero[..8192].fill(0);
    let f = p.open_storage(MemoryStorage::from_bytes(first_zero)).unwrap();
    let r = p.read(PageId::new(f, 2)).map(|g| g.len());
    assert!(
        matches!(
            r,
            Err(Error::Corrupt {
                reason: CorruptReason::WrongPageSize {
                    stored: 8192,
                    expected: 4096
                },
                ..
            })
        ),
        "{r:?}"
    );
}

#[test]
fn a_second_opener_is_refused_with_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.db");
    let p1 = pool(4096);
    let f = p1.open_file(&path).unwrap();
    let p2 = pool(4096);
    let err = p2.open_file(&path).unwrap_err();
    assert!(matches!(&err, Error::FileLocked { path: p } if *p == path), "{err}");
    assert!(err.to_string().contains("locked.db"), "{err}");
    // The same pool still says it is already open here, under which id.
    assert!(matches!(p1.open_file(&path), Err(Error::FileAlreadyOpen { file, .. }) if file == f));
    // Another process is refused too: flock(1) in non-blocking mode fails while we hold the lock.
    if let Ok(out) = std::process::Command::new("flock")
        .args(["-n", "-E", "42"])
        .arg(&path)
        .arg("true")
        .output()
    {
        assert_eq!(out.status.code(), Some(42), "another process got the lock");
    } else {
        eprintln!("flock(1) not available: cross-process check skipped");
    }
    // Closing releases the lock.
    p1.close_file(f).unwrap();
    p2.open_file(&path).unwrap();
}

#[test]
fn a_lost_write_below_the_written_mark_is_refused_in_strict_mode() {
    let storage = std::sync::Arc::new(MemoryStorage::new());
    {
        let p = pool(4096);
        let f = p.open_storage(storage.clone()).unwrap();
        for n in 0..4 {
            common::fill_page(&mut p.new_page(f).unwrap(), n, 1);
        }
        p.checkpoint().unwrap(); // the record's written mark is now 4
                                 // Two more pages after the checkpoint: not covered by the mark.
        for n in 4..6 {
            common::fill_page(&mut p.new_page(f).unwrap(), n, 1);
        }
        drop(p); // a crash: pages 4 and 5 were never written
    }
    // The device lost the write of page 2 (acknowledged, synced, yet zeroes), and page 5 is a legitimate hole.
    storage.with_bytes(|b| {
        b[2 * 4096..3 * 4096].fill(0);
        b.resize(6 * 4096, 0);
    });
    let p = pool(4096);
    let f = p.open_storage(storage.clone()).unwrap();
    let r = p.read(PageId::new(f, 2)).map(|g| g.len());
    assert!(
        matches!(
            r,
            Err(Error::Corrupt {
                reason: CorruptReason::LostWrite { written_pages: 4 },
                ..
            })
        ),
        "{r:?}"
    );
    assert!(
        p.read(PageId::new(f, 5)).unwrap().iter().all(|&b| b == 0),
        "above the mark: never written"
    );
    let st = p.stats();
    assert_eq!((st.lost_writes, st.fresh_reads), (1, 2));
    // Strict mode off: the old behaviour, still counted.
    let lax = BufferPool::builder().frames(8).strict_fresh(false).build().unwrap();
    drop(p);
    let f = lax.open_storage(storage.clone()).unwrap();
    assert!(lax.read(PageId::new(f, 2)).unwrap().iter().all(|&b| b == 0));
    assert_eq!(lax.stats().fresh_reads, 1);
}

#[test]
fn devices_are_refused_with_a_typed_error() {
    let p = pool(4096);
    for dev in ["/dev/null", "/dev/zero"] {
        if std::path::Path::new(dev).exists() {
            let err = p.open_file(dev).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::NotARegularFile {
                        kind: "character device",
                        ..
                    }
                ),
                "{dev}: {err}"
            );
        }
    }
    // A real block device: a loop device over a small file, where this process may set one up (root).
    let dir = tempfile::tempdir().unwrap();
    let backing = dir.path().join("backing.img");
    std::fs::write(&backing, vec![0u8; 1 << 20]).unwrap();
    let out = std::process::Command::new("losetup")
        .args(["-f", "--show"])
        .arg(&backing)
        .output();
    let loopdev = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        Ok(o) => {
            eprintln!(
                "SKIPPED block device check: losetup: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            return;
        }
        Err(e) => {
            eprintln!("SKIPPED block device check: cannot run losetup: {e}");
            return;
        }
    };
    let err = p.open_file(&loopdev).unwrap_err();
    let _ = std::process::Command::new("losetup").args(["-d", &loopdev]).status();
    assert!(
        matches!(
            err,
            Error::NotARegularFile {
                kind: "block device",
                ..
            }
        ),
        "{loopdev}: {err}"
    );
    assert!(
        std::fs::read(&backing).unwrap().iter().all(|&b| b == 0),
        "nothing was written to the device"
    );
}
