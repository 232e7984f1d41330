//! One failed file does not fail a checkpoint for the whole pool (issue 19). Before, `checkpoint()` and `close()`
//! returned the first error of any file, with nothing to say that every other file had been written and synced:
//! an engine could acknowledge nothing. Now `checkpoint_report()` says, file by file, which files are durable as
//! of the checkpoint and which failed and why; `checkpoint()` returns the failed file's own error (it names the
//! file) or `Error::CheckpointFailed` naming each failed file.

use crate::common;

use std::sync::Arc;

use bufpool::storage::{Fault, FaultConfig, FaultyStorage, Op};
use bufpool::{BufferPool, Error, FileId, MemoryStorage, PageId};

fn faulty(seed: u64) -> Arc<FaultyStorage> {
    Arc::new(FaultyStorage::new(seed, FaultConfig::none()))
}

fn fill(pool: &BufferPool, file: FileId, pages: u32, generation: u64) {
    for n in 0..pages {
        if n < pool.file_pages(file).unwrap() {
            common::fill_page(&mut pool.write(PageId::new(file, n)).unwrap(), n, generation);
        } else {
            common::fill_page(&mut pool.new_page(file).unwrap(), n, generation);
        }
    }
}

fn durable_generations(storage: &FaultyStorage, pages: u32) -> Vec<u64> {
    let pool = BufferPool::builder().frames(16).build().unwrap();
    let f = pool
        .open_storage(MemoryStorage::from_bytes(storage.durable_image()))
        .unwrap();
    (0..pages)
        .map(|n| common::check_page(&pool.read(PageId::new(f, n)).unwrap(), n))
        .collect()
}

#[test]
fn a_failed_sync_of_one_file_leaves_the_others_durable_and_reported() {
    let (sa, sb, sc) = (faulty(1), faulty(2), faulty(3));
    let pool = BufferPool::builder().frames(32).build().unwrap();
    let (a, b, c) = (
        pool.open_storage(sa.clone()).unwrap(),
        pool.open_storage(sb.clone()).unwrap(),
        pool.open_storage(sc.clone()).unwrap(),
    );
    for f in [a, b, c] {
        fill(&pool, f, 4, 1);
    }
    sb.inject_next(Op::Sync, Fault::Eio);
    let report = pool.checkpoint_report();
    assert!(!report.is_ok());
    assert_eq!(report.durable().collect::<Vec<_>>(), vec![a, c]);
    let failed: Vec<_> = report.failed().collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0, b);
    assert!(
        matches!(failed[0].1, Error::Io { file, op: "sync", .. } if *file == b),
        "{}",
        failed[0].1
    );
    // What the report calls durable is durable.
    assert_eq!(durable_generations(&sa, 4), vec![1; 4]);
    assert_eq!(durable_generations(&sc, 4), vec![1; 4]);

    // The engine goes on with its healthy files: the next checkpoint still acknowledges them, and the plain
    // `checkpoint()` error names the failed file.
    fill(&pool, a, 4, 2);
    fill(&pool, c, 4, 2);
    let err = pool.checkpoint().unwrap_err();
    assert!(matches!(&err, Error::FileFailed { file, .. } if *file == b), "{err}");
    assert_eq!(durable_generations(&sa, 4), vec![2; 4]);
    assert_eq!(durable_generations(&sc, 4), vec![2; 4]);

    // A second failed file: the error names both.
    fill(&pool, c, 4, 3);
    sc.inject_next(Op::Write, Fault::EioPersistent);
    let err = pool.checkpoint().unwrap_err();
    match &err {
        Error::CheckpointFailed { failed } => {
            assert_eq!(failed.iter().map(|(f, _)| *f).collect::<Vec<_>>(), vec![b, c]);
        }
        other => panic!("expected CheckpointFailed, got {other}"),
    }
    let text = err.to_string();
    assert!(text.contains("file 1") && text.contains("file 2"), "{text}");

    // close() closes the healthy file and names the failed ones.
    fill(&pool, a, 4, 4);
    let err = pool.close().unwrap_err();
    assert!(
        matches!(err, Error::CheckpointFailed { ref failed } if failed.len() == 2),
        "{err}"
    );
    assert_eq!(durable_generations(&sa, 4), vec![4; 4]);
}

#[test]
fn a_background_enospc_that_cleared_does_not_fail_the_checkpoint() {
    let s = faulty(4);
    let pool = BufferPool::builder()
        .frames(64)
        .background_writer(bufpool::WriterConfig {
            interval: std::time::Duration::from_millis(1),
            dirty_ratio_max: 0.0,
            ..bufpool::WriterConfig::for_frames(64)
        })
        .build()
        .unwrap();
    let f = pool.open_storage(s.clone()).unwrap();
    s.inject_next(Op::Write, Fault::NoSpace);
    fill(&pool, f, 8, 1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while s.counts().write_no_space == 0 {
        assert!(std::time::Instant::now() < deadline, "the writer never wrote");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let report = pool.checkpoint_report();
    assert!(report.is_ok(), "{:?}", report.files);
    assert_eq!(report.durable().collect::<Vec<_>>(), vec![f]);
    // The writer's ENOSPC (if it was still pending) concerned a file this checkpoint made durable: no error.
    assert!(report.clone().into_result().is_ok(), "{:?}", report.background);
    assert_eq!(durable_generations(&s, 8), vec![1; 8]);
}
