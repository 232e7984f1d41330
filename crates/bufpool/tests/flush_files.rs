//! `BufferPool::flush_files`: several files flushed in one pass over the frames (a `bufpool-btree` checkpoint of
//! every tree of one pool at once). Each named file's dirty pages are written and synced, so they survive a crash
//! that loses every unsynced write; a file not named is left alone; a failed file does not stop the others'
//! syncs, and its error is returned.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bufpool::storage::{Fault, FaultConfig, FaultyStorage, Op};
use bufpool::{BufferPool, Error, FileId, FileOptions, PageId, WriterConfig};

const PAGES: u64 = 8;

/// A pool of three files on storage that loses unsynced writes at a crash, `PAGES` dirty pages in each.
fn three_dirty_files() -> (BufferPool, Vec<(FileId, Arc<FaultyStorage>)>) {
    let pool = BufferPool::builder().frames(64).build().unwrap();
    let files = (0..3)
        .map(|i| {
            let s = Arc::new(FaultyStorage::new(i, FaultConfig::crash_only()));
            let f = pool.open_storage(s.clone()).unwrap();
            for n in 0..PAGES {
                common::fill_page(&mut pool.new_page(f).unwrap(), n as u32, 1);
            }
            (f, s)
        })
        .collect();
    (pool, files)
}

/// The pages of `PAGES` in `image` (a crash's durable bytes) that hold what `fill_page` wrote.
fn durable_pages(image: &[u8], page_size: usize) -> u64 {
    (0..PAGES)
        .filter(|&n| {
            let at = n as usize * page_size;
            image.len() >= at + page_size && image[at..at + page_size].iter().any(|&b| b != 0)
        })
        .count() as u64
}

#[test]
fn flush_files_makes_each_named_file_durable_and_leaves_the_others_dirty() {
    let (pool, files) = three_dirty_files();
    let (a, b, c) = (files[0].0, files[1].0, files[2].0);
    pool.flush_files(&[a, c]).unwrap();
    let page_size = pool.page_size();
    for (f, s) in &files {
        let durable = durable_pages(&s.crash(), page_size);
        let want = if *f == b { 0 } else { PAGES };
        assert_eq!(durable, want, "file {f:?}");
        assert_eq!(pool.file_stats(*f).unwrap().writes, want, "file {f:?}");
    }
    // The pages of `a` and `c` are clean now: a second call writes nothing.
    let (fa, fc) = (pool.file_stats(a).unwrap().writes, pool.file_stats(c).unwrap().writes);
    pool.flush_files(&[a, c]).unwrap();
    assert_eq!(pool.file_stats(a).unwrap().writes, fa);
    assert_eq!(pool.file_stats(c).unwrap().writes, fc);
    assert_eq!(common::check_page(&pool.read(PageId::new(b, 3)).unwrap(), 3), 1);
}

#[test]
fn a_failed_file_does_not_stop_the_others_and_its_error_is_returned() {
    let (pool, files) = three_dirty_files();
    let ids: Vec<FileId> = files.iter().map(|f| f.0).collect();
    files[1].1.inject_next(Op::Sync, Fault::EioPersistent);
    let err = pool.flush_files(&ids).unwrap_err();
    assert!(pool.file_stats(ids[1]).unwrap().failed, "{err}");
    assert!(!pool.file_stats(ids[0]).unwrap().failed && !pool.file_stats(ids[2]).unwrap().failed);
    let page_size = pool.page_size();
    assert_eq!(durable_pages(&files[0].1.crash(), page_size), PAGES);
    assert_eq!(durable_pages(&files[2].1.crash(), page_size), PAGES);
    assert_eq!(durable_pages(&files[1].1.crash(), page_size), 0);
}

#[test]
fn a_file_not_open_is_an_error_and_nothing_is_written() {
    let (pool, files) = three_dirty_files();
    let missing = FileId(999);
    assert!(pool.flush_files(&[files[0].0, missing]).is_err());
    assert_eq!(pool.file_stats(files[0].0).unwrap().writes, 0);
}

/// R15-2: two of three files fail (one's write, the other's sync). The error names both, as a checkpoint's does
/// (`Error::CheckpointFailed`); before, it was the first file's error alone, and nothing told the caller that the
/// second file was not durable either (the third is).
#[test]
fn every_failed_file_is_named_in_the_error() {
    let (pool, files) = three_dirty_files();
    let ids: Vec<FileId> = files.iter().map(|f| f.0).collect();
    files[0].1.inject_next(Op::Write, Fault::EioPersistent);
    files[2].1.inject_next(Op::Sync, Fault::EioPersistent);
    let err = pool.flush_files(&ids).unwrap_err();
    let Error::CheckpointFailed { failed } = &err else {
        panic!("one file's error for two failed files: {err}");
    };
    let named: Vec<FileId> = failed.iter().map(|(f, _)| *f).collect();
    assert_eq!(named, vec![ids[0], ids[2]], "{err}");
    assert_eq!(durable_pages(&files[1].1.crash(), pool.page_size()), PAGES);
    // One failed file is its own error, as before.
    let (pool, files) = three_dirty_files();
    files[1].1.inject_next(Op::Sync, Fault::EioPersistent);
    let ids: Vec<FileId> = files.iter().map(|f| f.0).collect();
    let err = pool.flush_files(&ids).unwrap_err();
    assert_eq!(err.file(), Some(ids[1]), "{err}");
}

/// R15-1: the background writer fails a write of file `b`; then a flush of healthy file `a` (`flush_file`,
/// `flush_files`, `flush` of a page) failed with `b`'s error, taken and returned before anything of `a` was
/// written. In a shared pool that failed a healthy tree's `Tree::checkpoint`, whose docs promise that another
/// file's failure does not stop it. `b`'s error now stays for `b`'s own flush (or a checkpoint).
#[test]
fn another_files_background_error_does_not_fail_this_files_flush() {
    let pool = eager_writer_pool();
    let bad = Arc::new(FaultyStorage::new(1, FaultConfig::crash_only()));
    let good = Arc::new(FaultyStorage::new(2, FaultConfig::crash_only()));
    let b = pool.open_storage(bad.clone()).unwrap();
    let a = pool.open_storage(good.clone()).unwrap();
    bad.inject_next(Op::Write, Fault::EioPersistent);
    common::fill_page(&mut pool.new_page(b).unwrap(), 0, 1);
    // The writer meets the failure on its own (no flush of `b` is asked for).
    let start = Instant::now();
    while !pool.file_stats(b).unwrap().failed {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the background writer never wrote file b"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    // The writer records its error just after the file is marked failed.
    std::thread::sleep(Duration::from_millis(50));
    for n in 0..PAGES {
        common::fill_page(&mut pool.new_page(a).unwrap(), n as u32, 1);
    }
    pool.flush(PageId::new(a, 0)).unwrap();
    pool.flush_file(a).unwrap();
    pool.flush_files(&[a]).unwrap();
    assert_eq!(durable_pages(&good.crash(), pool.page_size()), PAGES);
    // `b`'s flush reports `b`'s failure.
    let err = pool.flush_file(b).unwrap_err();
    assert_eq!(err.file(), Some(b), "{err}");
}

/// A pool whose background writer writes every dirty page at once (every millisecond).
fn eager_writer_pool() -> BufferPool {
    let writer = WriterConfig {
        interval: Duration::from_millis(1),
        free_frames_target: 0,
        dirty_ratio_max: 0.0,
        ..WriterConfig::for_frames(64)
    };
    BufferPool::builder()
        .frames(64)
        .background_writer(writer)
        .build()
        .unwrap()
}

/// Waits until `met()` (the writer met the fault it was given), then a little longer: the writer records its
/// error just after the write that met it returned.
fn wait_for_writer(met: impl Fn() -> bool) {
    let start = Instant::now();
    while !met() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the background writer never met its fault"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(100));
}

/// R16-1: the background writer failed a write of file 7 (EIO), the engine dropped that file and opened a new,
/// healthy one under its persistent id 7 (`FileOptions::id`). The new file's first flush failed with the dropped
/// file's write error (`Io { file: 7, op: "write" }`), before anything of the new file was written: a healthy
/// tree's checkpoint failed on a file that no longer existed. The error of a file closed or dropped is now
/// forgotten with it.
#[test]
fn a_dropped_files_background_error_is_not_reported_to_a_file_reopened_under_its_id() {
    let pool = eager_writer_pool();
    let id = FileId(7);
    let bad = Arc::new(FaultyStorage::new(1, FaultConfig::crash_only()));
    let b = pool.open_storage_with(bad.clone(), FileOptions::new().id(id)).unwrap();
    bad.inject_next(Op::Write, Fault::EioPersistent);
    common::fill_page(&mut pool.new_page(b).unwrap(), 0, 1);
    wait_for_writer(|| pool.file_stats(b).unwrap().failed);
    pool.drop_file(b).unwrap();
    let good = Arc::new(FaultyStorage::new(2, FaultConfig::crash_only()));
    let a = pool.open_storage_with(good.clone(), FileOptions::new().id(id)).unwrap();
    assert_eq!(a, id);
    for n in 0..PAGES {
        common::fill_page(&mut pool.new_page(a).unwrap(), n as u32, 1);
    }
    pool.flush_file(a).unwrap();
    // The synced image, without a crash: `a` stays open for the checkpoint below, which may sync it again (R20-3:
    // a background write of a page the flush also wrote can mark the file unsynced after the flush's sync, and a
    // sync of a crashed storage fails).
    assert_eq!(durable_pages(&good.durable_image(), pool.page_size()), PAGES);
    // Nor is it reported by a checkpoint: the file it concerned is gone.
    pool.checkpoint().unwrap();
}

/// R16-1, a close: the writer's write of file 7 was refused for space; the space came back and the engine closed
/// the file (every page written and synced: `close_file` returned `Ok`), then opened it again under its id. The
/// reopened file's flush failed with the closed one's `NoSpace`, though nothing of either was left unwritten.
#[test]
fn a_closed_files_background_error_is_not_reported_to_the_file_reopened() {
    let pool = eager_writer_pool();
    let id = FileId(7);
    let s = Arc::new(FaultyStorage::new(1, FaultConfig::crash_only()));
    let f = pool.open_storage_with(s.clone(), FileOptions::new().id(id)).unwrap();
    s.inject_next(Op::Write, Fault::NoSpace);
    common::fill_page(&mut pool.new_page(f).unwrap(), 0, 1);
    wait_for_writer(|| s.counts().write_no_space > 0);
    pool.close_file(f).unwrap();
    let f = pool.open_storage_with(s.clone(), FileOptions::new().id(id)).unwrap();
    for n in 1..PAGES {
        common::fill_page(&mut pool.new_page(f).unwrap(), n as u32, 1);
    }
    pool.flush_files(&[f]).unwrap();
    assert_eq!(durable_pages(&s.crash(), pool.page_size()), PAGES);
}

/// A file's own log that refuses every flush, counting the calls.
struct BrokenLog(std::sync::atomic::AtomicUsize);

impl bufpool::Wal for BrokenLog {
    fn flush_to(&self, lsn: u64) -> bufpool::Result<()> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Err(Error::Wal {
            lsn,
            reason: "log device gone".into(),
        })
    }
}

/// E17-3: the background writer, freeing frames (`free_frames_target`), could not write a page of file `a`
/// because `a`'s own log refused to flush (`Error::Wal`, which names no file). The writer kept that error as no
/// file's, so the next flush of any file took it: a healthy file's `flush_file` failed with another engine's log
/// error (R15-1 again, by the frame-freeing path). Each error is now kept under the file of the page whose write
/// met it.
#[test]
fn a_files_log_error_met_freeing_frames_stays_that_files() {
    let writer = WriterConfig {
        interval: Duration::from_millis(1),
        free_frames_target: 64,
        dirty_ratio_max: 1.0,
        ..WriterConfig::for_frames(64)
    };
    let pool = BufferPool::builder()
        .frames(64)
        .background_writer(writer)
        .build()
        .unwrap();
    let log = Arc::new(BrokenLog(Default::default()));
    let a = pool
        .open_storage_with(
            FaultyStorage::new(1, FaultConfig::crash_only()),
            FileOptions::new().wal(log.clone()),
        )
        .unwrap();
    let good = Arc::new(FaultyStorage::new(2, FaultConfig::crash_only()));
    let c = pool.open_storage(good.clone()).unwrap();
    {
        let mut g = pool.new_page(a).unwrap();
        common::fill_page(&mut g, 0, 1);
        g.set_lsn(5);
    }
    wait_for_writer(|| log.0.load(std::sync::atomic::Ordering::SeqCst) > 0);
    for n in 0..PAGES {
        common::fill_page(&mut pool.new_page(c).unwrap(), n as u32, 1);
    }
    pool.flush_file(c).unwrap();
    assert_eq!(durable_pages(&good.crash(), pool.page_size()), PAGES);
    // `a`'s own flush reports its log's error.
    let err = pool.flush_file(a).unwrap_err();
    assert!(matches!(err, Error::Wal { lsn: 5, .. }), "{err}");
}

/// R16-O3, checked (E17-3): the writer keeps one pending error, so of `b`'s write error and then `a`'s, `a`'s is
/// not kept. Nothing is lost to a user: a failed write fails its file, so `flush_file(a)` reports `a`'s failure
/// (`FileFailed`, naming `a`, its text `a`'s first error), and `flush_file(b)` reports `b`'s own error.
#[test]
fn two_files_failed_by_the_writer_each_report_their_own_failure() {
    let pool = eager_writer_pool();
    let bad_b = Arc::new(FaultyStorage::new(1, FaultConfig::crash_only()));
    let bad_a = Arc::new(FaultyStorage::new(2, FaultConfig::crash_only()));
    let b = pool.open_storage(bad_b.clone()).unwrap();
    let a = pool.open_storage(bad_a.clone()).unwrap();
    bad_b.inject_next(Op::Write, Fault::EioPersistent);
    common::fill_page(&mut pool.new_page(b).unwrap(), 0, 1);
    wait_for_writer(|| pool.file_stats(b).unwrap().failed);
    bad_a.inject_next(Op::Write, Fault::EioPersistent);
    common::fill_page(&mut pool.new_page(a).unwrap(), 0, 1);
    wait_for_writer(|| pool.file_stats(a).unwrap().failed);
    let err = pool.flush_file(a).unwrap_err();
    assert_eq!(err.file(), Some(a), "{err}");
    assert!(
        err.to_string().contains(&format!("I/O error on {a} during write")),
        "{err}"
    );
    let err = pool.flush_file(b).unwrap_err();
    assert!(matches!(err, Error::Io { op: "write", .. }), "{err}");
    assert_eq!(err.file(), Some(b), "{err}");
}
