//! A data file made through a symbolic link into another directory must have its own directory fsynced (R33-10 in
//! RELIABILITY.md, was R30-O2). The sidecar (`<name>.bpmeta`) sits beside the name the pool was given, the data file
//! where the link leads; the pool fsynced only the sidecar's directory, so a crash soon after the create could lose
//! the data file's name and keep its sidecar.
//!
//! Which directory an open fsyncs is not visible from outside without tracing it, so these tests use the crate's
//! fault hook (`storage::fail_dir_syncs`, feature `testing`): every fsync of one directory (matched by device and
//! inode) fails with EIO, and an open that fsyncs it must fail. A binary of its own: the hook is process-wide.

use std::path::Path;

use bufpool::storage::{fail_dir_syncs, sidecar_path, uring_available};
use bufpool::{BufferPool, Error, IoBackend, PageId};

fn pools() -> Vec<(&'static str, BufferPool)> {
    let pool = |backend| {
        BufferPool::builder()
            .frames(8)
            .page_size(4096)
            .io_backend(backend)
            .build()
            .unwrap()
    };
    let mut pools = vec![("pread", pool(IoBackend::Pread))];
    if uring_available() {
        pools.push(("io_uring", pool(IoBackend::Uring)));
    }
    pools
}

/// Held by each test: the hook is one setting for the whole process, and the tests of a binary run at once.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Opens `path` with the fsyncs of `failing` refused; the hook is cleared before returning.
fn open_failing(pool: &BufferPool, path: &Path, failing: &Path) -> bufpool::Result<bufpool::FileId> {
    fail_dir_syncs(Some(failing)).unwrap();
    let opened = pool.open_file(path);
    fail_dir_syncs(None).unwrap();
    opened
}

fn assert_eio(opened: bufpool::Result<bufpool::FileId>, what: &str) {
    match opened {
        Err(Error::Open { source, .. }) if source.raw_os_error() == Some(libc::EIO) => {}
        other => panic!("{what}: expected the open refused with the directory fsync's EIO, got {other:?}"),
    }
}

#[test]
fn a_data_file_made_through_a_link_has_the_directory_it_lives_in_fsynced() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    for (backend, pool) in pools() {
        let root = tempfile::tempdir().unwrap();
        let (links, data) = (root.path().join("links"), root.path().join("data"));
        std::fs::create_dir(&links).unwrap();
        std::fs::create_dir(&data).unwrap();
        let link = links.join("t.db");
        std::os::unix::fs::symlink("../data/t.db", &link).unwrap();

        // The target's directory: before R33-10 this open succeeded, fsyncing only `links`.
        assert_eio(open_failing(&pool, &link, &data), backend);
        // The next open finds the (still empty) file the refused one made: it does not trust its name either.
        assert_eio(open_failing(&pool, &link, &data), backend);
        // The sidecar's directory, beside the link, is fsynced as before.
        assert_eio(open_failing(&pool, &link, &links), backend);

        // Both fsyncs succeed: the file is made, with its sidecar beside the link and its data where it leads.
        let file = pool.open_file(&link).unwrap();
        pool.new_page(file).unwrap().set_lsn(1);
        pool.checkpoint().unwrap();
        pool.close_file(file).unwrap();
        assert!(sidecar_path(&link).exists() && !sidecar_path(&data.join("t.db")).exists());
        assert_eq!(std::fs::metadata(data.join("t.db")).unwrap().len(), 4096, "{backend}");

        // An open that makes nothing fsyncs nothing: a failing directory on either side does not refuse it.
        for failing in [&data, &links] {
            let file = open_failing(&pool, &link, failing).unwrap_or_else(|e| panic!("{backend}: {e}"));
            pool.read(PageId::new(file, 0)).unwrap();
            pool.close_file(file).unwrap();
        }
    }
}

#[test]
fn a_data_file_made_again_beside_its_old_sidecar_has_its_directory_fsynced() {
    // A crash that lost a new data file's name and kept its sidecar (the case above, before the fix) leaves this:
    // the open that makes the file again must make its name durable although the sidecar is already there.
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    for (backend, pool) in pools() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let file = pool.open_file(&path).unwrap();
        pool.new_page(file).unwrap().set_lsn(1);
        pool.checkpoint().unwrap();
        pool.close_file(file).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eio(open_failing(&pool, &path, dir.path()), backend);
        assert_eio(open_failing(&pool, &path, dir.path()), backend);
        // The sidecar's mark says a page was synced: the emptied file is refused (R34-20), until the sidecar goes.
        match pool.open_file(&path) {
            Err(Error::DataFileEmptied { written_pages: 1, .. }) => {}
            other => panic!("{backend}: expected DataFileEmptied, got {other:?}"),
        }
        std::fs::remove_file(sidecar_path(&path)).unwrap();
        let file = pool.open_file(&path).unwrap();
        assert_eq!(pool.file_pages(file).unwrap(), 0, "{backend}");
        pool.close_file(file).unwrap();
    }
}

#[test]
fn a_new_data_file_and_sidecar_in_one_directory_are_refused_when_it_cannot_be_fsynced() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    for (backend, pool) in pools() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        assert_eio(open_failing(&pool, &path, dir.path()), backend);
        assert_eio(open_failing(&pool, &path, dir.path()), backend);
        pool.close_file(pool.open_file(&path).unwrap()).unwrap();
    }
}

#[test]
fn a_resident_list_whose_directory_fsync_fails_is_reported_and_left_whole() {
    // `save_resident` renames its new list over the old one, then fsyncs the directory (R33-O11): that fsync
    // failing is reported (the rename's durability is unknown), and whichever list a reader finds is whole.
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("pool.resident");
    let pool = BufferPool::builder().frames(8).page_size(4096).build().unwrap();
    let file = pool.open_file(dir.path().join("t.db")).unwrap();
    drop(pool.new_page(file).unwrap());
    assert_eq!(pool.save_resident(&list).unwrap(), 1);
    drop(pool.new_page(file).unwrap());
    fail_dir_syncs(Some(dir.path())).unwrap();
    let saved = pool.save_resident(&list);
    fail_dir_syncs(None).unwrap();
    match saved {
        Err(Error::ResidentList { path, reason }) => {
            assert!(path == list && reason.contains("Input/output"), "{reason}")
        }
        other => panic!("expected the directory fsync's error, got {other:?}"),
    }
    assert!(
        !bufpool::storage::temp_path(&list).exists(),
        "the temporary file was left"
    );
    let read = bufpool::read_resident_list(&list).unwrap();
    assert!(read.pages.len() == 1 || read.pages.len() == 2, "{read:?}");
    assert_eq!(pool.prewarm(&list).unwrap().listed, read.pages.len());
}
