//! What a new user trips over (issue 17), each with a typed error or the right behaviour: a flush past the end of
//! a file, the log asked to flush to LSN 0 for pages that never had an LSN, background-writer settings that
//! cannot work, and messages that say what is wrong.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bufpool::{BufferPool, Error, MemoryStorage, PageId, Wal, WriterConfig};

#[test]
fn flush_past_the_end_is_out_of_range() {
    let pool = BufferPool::builder().frames(4).build().unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    drop(pool.new_page(file).unwrap());
    pool.flush(PageId::new(file, 0)).unwrap();
    assert!(matches!(
        pool.flush(PageId::new(file, 1)),
        Err(Error::OutOfRange { pages: 1, .. })
    ));
    assert!(matches!(
        pool.flush(PageId::new(file, 1000)),
        Err(Error::OutOfRange { pages: 1, .. })
    ));
}

/// Records every LSN the pool asks the log to flush to.
#[derive(Default)]
struct RecordingWal {
    asked: Mutex<Vec<u64>>,
}

impl Wal for RecordingWal {
    fn flush_to(&self, lsn: u64) -> bufpool::Result<()> {
        self.asked.lock().unwrap().push(lsn);
        Ok(())
    }
}

#[test]
fn pages_without_an_lsn_never_ask_the_log_to_flush() {
    let wal = Arc::new(RecordingWal::default());
    let pool = BufferPool::builder().frames(2).wal(wal.clone()).build().unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    // Pages never given an LSN, written by eviction (2 frames, 6 pages), flush and checkpoint.
    for n in 0..6u8 {
        pool.new_page(file).unwrap()[0] = n;
    }
    pool.flush(PageId::new(file, 5)).unwrap();
    pool.write(PageId::new(file, 0)).unwrap()[1] = 1;
    pool.checkpoint().unwrap();
    assert!(pool.stats().writes >= 6, "every page was written");
    assert_eq!(*wal.asked.lock().unwrap(), Vec::<u64>::new());
    assert_eq!(pool.stats().wal_flushes, 0);

    // A page with an LSN still asks for exactly that LSN.
    pool.write(PageId::new(file, 1)).unwrap().set_lsn(42);
    pool.checkpoint().unwrap();
    assert_eq!(*wal.asked.lock().unwrap(), vec![42]);
    assert_eq!(pool.stats().wal_flushes, 1);
}

#[test]
fn a_failing_log_is_never_asked_for_lsn_zero() {
    struct BrokenWal(AtomicUsize);
    impl Wal for BrokenWal {
        fn flush_to(&self, lsn: u64) -> bufpool::Result<()> {
            self.0.fetch_add(1, SeqCst);
            Err(Error::Wal {
                lsn,
                reason: "log device gone".into(),
            })
        }
    }
    let wal = Arc::new(BrokenWal(AtomicUsize::new(0)));
    let pool = BufferPool::builder().frames(4).wal(wal.clone()).build().unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    pool.new_page(file).unwrap()[0] = 1;
    pool.checkpoint().unwrap();
    assert_eq!(wal.0.load(SeqCst), 0);
    pool.write(PageId::new(file, 0)).unwrap().set_lsn(9);
    let err = pool.checkpoint().unwrap_err();
    assert!(err.to_string().contains("LSN 9"), "{err}");
}

fn writer_error(frames: usize, change: impl FnOnce(&mut WriterConfig)) -> String {
    let mut config = WriterConfig::for_frames(frames);
    change(&mut config);
    match BufferPool::builder().frames(frames).background_writer(config).build() {
        Err(Error::InvalidConfig(msg)) => msg,
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[test]
fn writer_config_is_validated_at_build() {
    assert!(writer_error(64, |c| c.batch_pages = 0).contains("WriterConfig::batch_pages"));
    assert!(writer_error(64, |c| c.dirty_ratio_max = 7.0).contains("WriterConfig::dirty_ratio_max"));
    assert!(writer_error(64, |c| c.dirty_ratio_max = -0.1).contains("WriterConfig::dirty_ratio_max"));
    assert!(writer_error(64, |c| c.dirty_ratio_max = f64::NAN).contains("WriterConfig::dirty_ratio_max"));
    assert!(writer_error(64, |c| c.interval = Duration::ZERO).contains("WriterConfig::interval"));
    assert!(writer_error(64, |c| c.free_frames_target = 65).contains("WriterConfig::free_frames_target"));
    // The defaults, and the edges of each range, build.
    for frames in [1, 64, 4096] {
        let mut config = WriterConfig::for_frames(frames);
        config.validate(frames).unwrap();
        config.dirty_ratio_max = 1.0;
        config.free_frames_target = frames;
        config.batch_pages = 1;
        BufferPool::builder()
            .frames(frames)
            .background_writer(config)
            .build()
            .unwrap();
    }
}
