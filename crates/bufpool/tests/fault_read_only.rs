//! A filesystem the kernel forces read-only under an open pool (issue 19): ext4 mounted `errors=remount-ro` on a
//! loop device, then an error raised through `/sys/fs/ext4/<dev>/trigger_fs_error`, which is what a real
//! metadata error does (the journal aborts and the kernel remounts the filesystem read-only, open files and all).
//!
//! What must hold: the pool neither panics nor hangs; the read-only file fails with its cause while a file on
//! another filesystem keeps being written and checkpointed (the checkpoint's per-file outcome says which);
//! `close_file` of the failed file fails, `drop_file` discards; reopening on the read-only filesystem is a typed
//! `Error::Open` carrying EROFS; and after the operator's way out (unmount, `e2fsck`, mount) every page that a
//! checkpoint acknowledged before the fault reads back intact.
//!
//! Needs root, `losetup`/`mount -o loop`, `mkfs.ext4` and `e2fsck`; prints why it skips where they are missing.

mod common;

use bufpool::{BufferPool, Error, IoBackend, PageId};
use common::ext4::{links_under, Ext4};

#[test]
fn a_filesystem_forced_read_only_fails_its_file_only_and_loses_nothing_acknowledged() {
    for backend in [IoBackend::Pread, IoBackend::Auto] {
        let dir = tempfile::tempdir().unwrap();
        let fs = match Ext4::new(dir.path(), 16 << 20) {
            Ok(fs) => fs,
            Err(why) => {
                eprintln!("SKIPPED read-only filesystem test: {why}");
                return;
            }
        };
        let ro_path = fs.mnt.join("data.db");
        let pool = BufferPool::builder().frames(64).io_backend(backend).build().unwrap();
        let ro = pool.open_file(&ro_path).unwrap();
        let healthy = pool.open_file(dir.path().join("healthy.db")).unwrap();
        for n in 0..8 {
            common::fill_page(&mut pool.new_page(ro).unwrap(), n, 1);
            common::fill_page(&mut pool.new_page(healthy).unwrap(), n, 1);
        }
        pool.checkpoint().unwrap(); // version 1 of every page is acknowledged
        for n in 0..8 {
            common::fill_page(&mut pool.write(PageId::new(ro, n)).unwrap(), n, 2);
            common::fill_page(&mut pool.write(PageId::new(healthy, n)).unwrap(), n, 2);
        }
        if let Err(why) = fs.force_read_only() {
            eprintln!("SKIPPED read-only filesystem test: {why}");
            return;
        }

        // The checkpoint fails for the read-only file alone, with its cause; the healthy file is durable.
        let report = pool.checkpoint_report();
        let durable: Vec<_> = report.durable().collect();
        assert_eq!(durable, vec![healthy], "{backend:?}: {report:?}");
        let ro_err = report
            .files
            .iter()
            .find(|f| f.file == ro)
            .unwrap()
            .result
            .clone()
            .unwrap_err();
        assert_eq!(ro_err.file(), Some(ro), "{backend:?}: {ro_err}");
        assert!(
            pool.stats().files.iter().any(|f| f.file == ro && f.failed),
            "{backend:?}"
        );
        // The failed file refuses new work with a typed error; the other file goes on.
        assert!(
            matches!(pool.write(PageId::new(ro, 0)), Err(Error::FileFailed { .. })),
            "{backend:?}"
        );
        common::fill_page(&mut pool.write(PageId::new(healthy, 0)).unwrap(), 0, 3);
        pool.flush_file(healthy).unwrap();
        // Its cached pages can still be read out (the way out for an engine without a log of them).
        assert_eq!(common::check_page(&pool.read(PageId::new(ro, 5)).unwrap(), 5), 2);
        // close_file cannot write them, so it fails and keeps the file; drop_file discards.
        assert!(pool.close_file(ro).is_err(), "{backend:?}");
        pool.drop_file(ro).unwrap();
        // Dropped, the file has no descriptor left (R25-10 .. R25-14: nothing of the pool holds it past the call).
        let left = links_under(&fs.mnt);
        assert!(left.is_empty(), "{backend:?}: drop_file returned with {left:?} open");
        pool.checkpoint().unwrap();

        // Reopening on the read-only filesystem: a typed open error carrying EROFS.
        let again = BufferPool::builder().frames(16).io_backend(backend).build().unwrap();
        match again.open_file(&ro_path) {
            Err(Error::Open { path, source }) => {
                assert_eq!(path, ro_path);
                assert_eq!(source.raw_os_error(), Some(libc::EROFS), "{backend:?}: {source}");
            }
            other => panic!("{backend:?}: reopen on a read-only filesystem: {other:?}"),
        }

        // The operator's way out: unmount, repair, mount. What the first checkpoint acknowledged is there.
        fs.unmount();
        fs.fsck().unwrap();
        fs.mount().unwrap();
        let f = again.open_file(&ro_path).unwrap();
        for n in 0..8 {
            let v = common::check_page(&again.read(PageId::new(f, n)).unwrap(), n);
            assert!(v == 1 || v == 2, "{backend:?}: page {n} reads version {v}");
        }
        again.close().unwrap();
        pool.close().unwrap();
        fs.unmount();
    }
}
