//! R18-20 (session 17's leftover of E17-3): the background writer, freeing frames, met a page of file `a` whose
//! own log refused to flush (`Error::Wal`, an error that names no file) and kept it for `a`. The log then
//! recovered, and a checkpoint wrote and synced every file: `checkpoint_report()` called every file durable, yet
//! `checkpoint()` (`CheckpointReport::into_result`) failed with the writer's old log error, because an error that
//! names no file was "on no open file" and returned. An engine that keeps its log until a checkpoint succeeds
//! kept it for nothing, and one that treats a failed checkpoint as a failed log stopped. Now the report keeps the
//! file the writer's error was met on, and `into_result` answers only "is every file durable?".

use crate::common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bufpool::storage::{FaultConfig, FaultyStorage};
use bufpool::{BufferPool, Error, FileOptions, PageId, WriterConfig};

/// A log that refuses to flush while `refusing` is set, and counts the flushes asked of it.
#[derive(Default)]
struct FlakyLog {
    refusing: AtomicBool,
    asked: AtomicUsize,
}

impl bufpool::Wal for FlakyLog {
    fn flush_to(&self, lsn: u64) -> bufpool::Result<()> {
        self.asked.fetch_add(1, SeqCst);
        if self.refusing.load(SeqCst) {
            return Err(Error::Wal {
                lsn,
                reason: "log device busy".into(),
            });
        }
        Ok(())
    }
}

#[test]
fn a_log_error_the_writer_met_and_the_checkpoint_got_past_is_no_error() {
    let writer = WriterConfig {
        interval: Duration::from_millis(1),
        free_frames_target: 16,
        dirty_ratio_max: 1.0,
        ..WriterConfig::for_frames(16)
    };
    let pool = BufferPool::builder()
        .frames(16)
        .background_writer(writer)
        .build()
        .unwrap();
    let log = Arc::new(FlakyLog::default());
    log.refusing.store(true, SeqCst);
    let a = pool
        .open_storage_with(
            FaultyStorage::new(1, FaultConfig::crash_only()),
            FileOptions::new().wal(log.clone()),
        )
        .unwrap();
    let other = pool
        .open_storage(FaultyStorage::new(2, FaultConfig::crash_only()))
        .unwrap();
    {
        let mut g = pool.new_page(a).unwrap();
        common::fill_page(&mut g, 0, 1);
        g.set_lsn(5);
    }
    common::fill_page(&mut pool.new_page(other).unwrap(), 0, 1);
    // Three refusals: the writer's first round (whose error it keeps for `a`) is over.
    let deadline = Instant::now() + Duration::from_secs(20);
    while log.asked.load(SeqCst) < 3 {
        assert!(Instant::now() < deadline, "the writer never asked the log");
        std::thread::sleep(Duration::from_millis(1));
    }
    log.refusing.store(false, SeqCst);

    let report = pool.checkpoint_report();
    assert!(report.is_ok(), "{:?}", report.files);
    assert_eq!(report.durable().count(), 2);
    let Some((file, Error::Wal { lsn: 5, .. })) = &report.background else {
        panic!(
            "the writer's refusal is reported, with its file: {:?}",
            report.background
        );
    };
    assert_eq!(*file, a);
    // Every file durable: no error, though the writer met one on the way.
    report.into_result().expect("every file is durable");
    assert_eq!(pool.stats().dirty, 0, "every page written");
    // And the same through `checkpoint()`, after the writer meets the log's refusal again.
    log.refusing.store(true, SeqCst);
    {
        let mut g = pool.write(PageId::new(a, 0)).unwrap();
        common::fill_page(&mut g, 0, 2);
        g.set_lsn(6);
    }
    let asked = log.asked.load(SeqCst);
    while log.asked.load(SeqCst) < asked + 3 {
        assert!(Instant::now() < deadline, "the writer never asked the log again");
        std::thread::sleep(Duration::from_millis(1));
    }
    log.refusing.store(false, SeqCst);
    pool.checkpoint().expect("every file is durable");
}
