//! ENOSPC is retryable (issue 19). Before the fix, `write_run` latched the file failed on *every* write error,
//! `NoSpace` included: once the device had filled up, every later checkpoint, flush, write and `new_page` of the
//! file returned `FileFailed`, even after space was freed. A `pwrite` refused with ENOSPC drops nothing in the
//! kernel (unlike a failed fsync), so the pages can stay dirty and be written again: PostgreSQL does that. Also,
//! a run that hit ENOSPC halfway reported nothing exact: now no page of a refused run is marked clean, and the
//! error names the run (`page`, `pages`).
//!
//! Two ways to fill a device: `FaultyStorage`'s one-shot `Fault::NoSpace` (a prefix of the run lands, then
//! ENOSPC), and, where this process may mount one (root, CI containers usually), a real 64 KiB tmpfs grown with
//! `mount -o remount` afterwards. The tmpfs test prints why it skips when it cannot mount.

mod common;

use std::sync::Arc;

use bufpool::storage::{Fault, FaultConfig, FaultyStorage, Op};
use bufpool::{BufferPool, Error, IoBackend, MemoryStorage, PageId};
use common::tmpfs::{fill, mount_tmpfs, remount};

#[test]
fn enospc_during_checkpoint_keeps_the_run_dirty_and_the_file_usable() {
    let storage = Arc::new(FaultyStorage::new(7, FaultConfig::none()));
    let pool = BufferPool::builder().frames(16).build().unwrap();
    let file = pool.open_storage(storage.clone()).unwrap();
    for n in 0..8 {
        common::fill_page(&mut pool.new_page(file).unwrap(), n, 1);
    }
    storage.inject_next(Op::Write, Fault::NoSpace);
    let err = pool.checkpoint().unwrap_err();
    assert!(
        matches!(err, Error::NoSpace { page, pages: 8 } if page == PageId::new(file, 0)),
        "{err}"
    );
    assert_eq!(storage.counts().write_no_space, 1);
    let st = pool.stats();
    assert_eq!(st.dirty, 8, "no page of the refused run is reported written");
    assert!(!st.files[0].failed, "ENOSPC does not latch the file");
    // The file still takes writes and new pages.
    common::fill_page(&mut pool.write(PageId::new(file, 3)).unwrap(), 3, 2);
    common::fill_page(&mut pool.new_page(file).unwrap(), 8, 1);
    // Space is back (the trigger was one-shot): the next checkpoint writes everything.
    pool.checkpoint().unwrap();
    assert_eq!(pool.stats().dirty, 0);
    let durable = MemoryStorage::from_bytes(storage.durable_image());
    let fresh = BufferPool::builder().frames(16).build().unwrap();
    let f2 = fresh.open_storage(durable).unwrap();
    for n in 0..9 {
        let want = if n == 3 { 2 } else { 1 };
        assert_eq!(common::check_page(&fresh.read(PageId::new(f2, n)).unwrap(), n), want);
    }
}

#[test]
fn enospc_on_a_victim_write_is_retried_by_the_next_miss() {
    let storage = Arc::new(FaultyStorage::new(8, FaultConfig::none()));
    let pool = BufferPool::builder().frames(2).build().unwrap();
    let file = pool.open_storage(storage.clone()).unwrap();
    for n in 0..2 {
        common::fill_page(&mut pool.new_page(file).unwrap(), n, 1);
    }
    // Every miss now needs a dirty victim written. The first victim write hits ENOSPC (eight victims are
    // tried; the one-shot fault hits only the first), so the miss still succeeds with another victim.
    storage.inject_next(Op::Write, Fault::NoSpace);
    common::fill_page(&mut pool.new_page(file).unwrap(), 2, 1);
    assert!(!pool.stats().files[0].failed);
    pool.checkpoint().unwrap();
    for n in 0..3 {
        assert_eq!(common::check_page(&pool.read(PageId::new(file, n)).unwrap(), n), 1);
    }
}

#[test]
fn real_enospc_on_a_full_tmpfs_is_retried_after_space_is_freed() {
    let dir = tempfile::tempdir().unwrap();
    let mount = match mount_tmpfs(dir.path(), "64k") {
        Ok(m) => m,
        Err(why) => {
            eprintln!("SKIPPED real_enospc_on_a_full_tmpfs: {why}");
            return;
        }
    };
    let path = dir.path().join("data.db");
    let pages = 48u32; // 192 KiB of pages on a 64 KiB filesystem
    for backend in [IoBackend::Pread, IoBackend::Auto] {
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(path.with_extension("db.bpmeta"));
        remount(&mount, "64k");
        let pool = BufferPool::builder().frames(64).io_backend(backend).build().unwrap();
        let file = pool.open_file(&path).unwrap();
        for n in 0..pages {
            common::fill_page(&mut pool.new_page(file).unwrap(), n, 1);
        }
        let err = pool.checkpoint().unwrap_err();
        assert!(matches!(err, Error::NoSpace { .. }), "{backend:?}: {err}");
        let st = pool.stats();
        assert!(!st.files[0].failed, "{backend:?}: ENOSPC latched the file");
        assert!(st.dirty > 0, "{backend:?}: the refused pages stay dirty");
        // Free space: grow the filesystem, then the same pool finishes the job.
        remount(&mount, "1m");
        pool.checkpoint().unwrap();
        assert_eq!(pool.stats().dirty, 0);
        pool.close().unwrap();
        let pool = BufferPool::builder().frames(64).io_backend(backend).build().unwrap();
        let file = pool.open_file(&path).unwrap();
        for n in 0..pages {
            assert_eq!(common::check_page(&pool.read(PageId::new(file, n)).unwrap(), n), 1);
        }
        pool.close().unwrap();
    }
}

/// `save_resident` on a full device (R30-21): the error names the list, the list saved before is left whole, and
/// the temporary file the refused write made is removed (it was left, taking space on the device that had none).
#[test]
fn save_resident_refused_for_space_keeps_the_old_list_and_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let mount = match mount_tmpfs(dir.path(), "1m") {
        Ok(m) => m,
        Err(why) => {
            eprintln!("SKIPPED save_resident_refused_for_space: {why}");
            return;
        }
    };
    let pool = BufferPool::builder().frames(4096).build().unwrap();
    let file = pool.open_storage(Arc::new(MemoryStorage::new())).unwrap();
    drop(pool.new_page(file).unwrap());
    let list = dir.path().join("pool.hot");
    assert_eq!(pool.save_resident(&list).unwrap(), 1);
    let before = std::fs::read(&list).unwrap();
    // Pages enough for a list of 96 KiB (24 bytes each), then the device filled.
    for _ in 1..4000 {
        drop(pool.new_page(file).unwrap());
    }
    let f = fill(dir.path());
    let err = pool.save_resident(&list).unwrap_err();
    assert!(
        matches!(err, Error::ResidentList { .. }) && err.to_string().contains("pool.hot"),
        "{err}"
    );
    assert_eq!(std::fs::read(&list).unwrap(), before, "the list saved before changed");
    assert!(
        !bufpool::storage::temp_path(&list).exists(),
        "the refused write's temporary file was left on the full device"
    );
    drop(f);
    drop(mount);
}

/// A new data file opened on a full device (R33-O15): the open is refused with a typed error whose source is the
/// ENOSPC (its record could not be written), nothing is registered, and what the refused open left (an empty data
/// file, an empty or torn sidecar) does not stand in the way: once space is back the same path opens as a new
/// file, takes pages and reads them back after a reopen. Both I/O backends.
#[test]
fn a_new_file_on_a_full_device_is_refused_and_opens_once_space_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let mount = match mount_tmpfs(dir.path(), "64k") {
        Ok(m) => m,
        Err(why) => {
            eprintln!("SKIPPED a_new_file_on_a_full_device: {why}");
            return;
        }
    };
    for backend in [IoBackend::Pread, IoBackend::Auto] {
        remount(&mount, "64k");
        let path = dir.path().join(format!("{backend:?}.db"));
        let filled = fill(dir.path());
        let pool = BufferPool::builder().frames(16).io_backend(backend).build().unwrap();
        match pool.open_file(&path) {
            Err(Error::OpenIo { op, source, .. }) => {
                assert_eq!(source.raw_os_error(), Some(libc::ENOSPC), "{backend:?}: {op}: {source}")
            }
            Err(Error::Open { source, .. }) => assert_eq!(source.raw_os_error(), Some(libc::ENOSPC), "{backend:?}"),
            other => panic!("{backend:?}: a new file on a full device: {other:?}"),
        }
        assert!(
            pool.stats().files.is_empty(),
            "{backend:?}: the refused open registered a file"
        );
        drop(filled);
        std::fs::remove_file(dir.path().join("fill")).unwrap();
        let file = pool.open_file(&path).unwrap();
        for n in 0..4 {
            common::fill_page(&mut pool.new_page(file).unwrap(), n, 1);
        }
        pool.close().unwrap();
        let pool = BufferPool::builder().frames(16).io_backend(backend).build().unwrap();
        let file = pool.open_file(&path).unwrap();
        assert_eq!(pool.file_pages(file).unwrap(), 4);
        for n in 0..4 {
            assert_eq!(common::check_page(&pool.read(PageId::new(file, n)).unwrap(), n), 1);
        }
        pool.close().unwrap();
    }
    drop(mount);
}
