//! What a new user trips over (issue 17), each with a typed error or the right behaviour: a flush past the end of
//! a file, the log asked to flush to LSN 0 for pages that never had an LSN, background-writer settings that
//! cannot work, and messages that say what is wrong.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bufpool::{BufferPool, Error, FileId, MemoryStorage, PageId, Wal, WriterConfig};

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

#[test]
fn messages_say_what_is_wrong_in_words() {
    let pool = BufferPool::builder().frames(1).build().unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    let msg = pool
        .open_storage_as(file, MemoryStorage::new())
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with(&format!("file id {} is in use by an open file", file.0)),
        "{msg}"
    );
    let g = pool.new_page(file).unwrap();
    let msg = pool.read(PageId::new(file, 1)).unwrap_err().to_string();
    assert!(msg.ends_with("(file has 1 page)"), "{msg}");
    let msg = pool.new_page(file).unwrap_err().to_string();
    assert!(msg.ends_with("its only frame is latched or protected"), "{msg}");
    drop(g);
    drop(pool.new_page(file).unwrap());
    let msg = pool.read(PageId::new(file, 9)).unwrap_err().to_string();
    assert!(msg.ends_with("(file has 2 pages)"), "{msg}");
}

/// A file that is not a bufpool file (text) reads as "not a bufpool page", not as a checksum mismatch.
#[test]
fn a_foreign_file_is_not_a_bufpool_page() {
    let text: Vec<u8> = b"name,value\nalpha,1\n"
        .iter()
        .copied()
        .cycle()
        .take(2 * 4096)
        .collect();
    let pool = BufferPool::builder().frames(4).build().unwrap();
    let file = pool.open_storage(MemoryStorage::from_bytes(text)).unwrap();
    let err = pool.read(PageId::new(file, 1)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Corrupt {
                reason: bufpool::CorruptReason::BadMagic { .. },
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("not a bufpool page"), "{err}");
}

#[test]
fn stats_print_as_a_readable_summary() {
    let pool = BufferPool::builder().frames(8).build().unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    for _ in 0..3 {
        drop(pool.new_page(file).unwrap());
    }
    drop(pool.read(PageId::new(file, 0)).unwrap());
    pool.checkpoint().unwrap();
    let text = pool.stats().to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "frames 8: resident 3, dirty 0, latched 0", "{text}");
    assert!(
        lines[1].starts_with("requests 1: hits 1, misses 0 (hit ratio 100.0%)"),
        "{text}"
    );
    assert!(
        lines[2].contains("pages written 3 (eviction 0, writer 0, checkpoint 3, flush 0)"),
        "{text}"
    );
    assert!(lines[5].starts_with("read latency: p50 "), "{text}");
    assert!(
        lines[6].starts_with("write latency: p50 ") && lines[6].ends_with(" over 1"),
        "{text}"
    );
    assert!(
        lines[7].starts_with("sync latency: p50 ") && lines[7].ends_with(" over 1"),
        "{text}"
    );
    assert_eq!(
        lines.last().unwrap(),
        &format!("{file}: no path (memory, buffered, 3 pages): hits 1, misses 0, pages read 0, pages written 3"),
        "{text}"
    );
    assert_eq!(
        lines.len(),
        10,
        "six lines of counters, three of latencies, one per file:\n{text}"
    );
}

/// `close_all` works through an `Arc`, as an engine shares its pool: dirty pages are written and synced, every
/// file is closed, and the pool is left empty but usable.
#[test]
fn close_all_through_an_arc_leaves_the_pool_empty() {
    let dir = tempfile::tempdir().unwrap();
    let pool = Arc::new(BufferPool::builder().frames(8).build().unwrap());
    let path = dir.path().join("t.db");
    let file = pool.open_file(&path).unwrap();
    {
        let mut g = pool.new_page(file).unwrap();
        g[..4].copy_from_slice(b"kept");
    }
    let other = Arc::clone(&pool);
    std::thread::spawn(move || other.close_all()).join().unwrap().unwrap();
    let stats = pool.stats();
    assert_eq!((stats.resident, stats.dirty, stats.files.len()), (0, 0, 0));
    assert!(matches!(pool.read(PageId::new(file, 0)), Err(Error::FileNotOpen(_))));
    // Still usable: reopen and find the page.
    let file = pool.open_file(&path).unwrap();
    assert_eq!(&pool.read(PageId::new(file, 0)).unwrap()[..4], b"kept");
    // A latched page keeps its file open and is reported.
    let g = pool.read(PageId::new(file, 0)).unwrap();
    std::thread::scope(|s| {
        let err = s.spawn(|| pool.close_all()).join().unwrap().unwrap_err();
        assert!(matches!(err, Error::PageLatched { .. }), "{err}");
    });
    drop(g);
    pool.close_all().unwrap();
    assert_eq!(pool.stats().files.len(), 0);
}

/// `Error::file` names the file of every error that names a page (D16-1: `PageFreed` and `HeldByCaller` said
/// `None`, so an engine routing errors by file could not place them).
#[test]
fn errors_naming_a_page_name_its_file() {
    let pool = BufferPool::builder().frames(4).build().unwrap();
    let _other = pool.open_storage(MemoryStorage::new()).unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    let page = pool.new_page(file).unwrap().page_id();

    let guard = pool.write(page).unwrap();
    let held = pool.read(page).unwrap_err();
    assert!(matches!(held, Error::HeldByCaller { .. }), "{held}");
    assert_eq!(held.file(), Some(file));
    drop(guard);

    pool.free_page(page).unwrap();
    let freed = pool.free_page(page).unwrap_err();
    assert!(matches!(freed, Error::PageFreed { .. }), "{freed}");
    assert_eq!(freed.file(), Some(file));
}

/// `error`'s message and [`Error::path`] name `path`, and no message names a file id the refused file never had.
fn names_the_path(error: &Error, path: &std::path::Path) -> String {
    let msg = error.to_string();
    assert_eq!(error.path(), Some(path), "{msg}");
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(!msg.contains("file 0"), "{msg}");
    msg
}

/// E17-1: every error of opening a file by path names the path given. A page size mismatch, a damaged `.bpmeta`
/// sidecar and a failed read of the record named "file 0" (a placeholder: the refused file had no id, and file 0
/// may be another, open file, so `Error::file` sent an engine routing errors by file to the wrong one).
#[test]
fn open_errors_name_the_path_given() {
    let dir = tempfile::tempdir().unwrap();
    let pool_of = |page_size| BufferPool::builder().frames(8).page_size(page_size).build().unwrap();
    let pool = pool_of(4096);
    let _file_0 = pool.open_storage(MemoryStorage::new()).unwrap();

    // Opened twice.
    let twice = dir.path().join("twice.db");
    let first = pool.open_file(&twice).unwrap();
    let err = pool.open_file(&twice).unwrap_err();
    assert!(
        matches!(&err, Error::FileAlreadyOpen { file, .. } if *file == first),
        "{err}"
    );
    let msg = names_the_path(&err, &twice);
    assert_eq!(msg, format!("{} is already open as {first}", twice.display()));

    // Written with another page size, opened under a fresh id and under one asked for.
    let big = dir.path().join("big.db");
    {
        let p = pool_of(8192);
        let f = p.open_file(&big).unwrap();
        drop(p.new_page(f).unwrap());
        p.close().unwrap();
    }
    let err = pool.open_file(&big).unwrap_err();
    assert!(
        matches!(&err, Error::PageSizeMismatch { path: Some(p), file: None, on_disk: 8192, pool: 4096 } if *p == big),
        "{err}"
    );
    let msg = names_the_path(&err, &big);
    assert!(
        msg.starts_with(&format!("{} was written with 8192-byte pages", big.display())),
        "{msg}"
    );
    assert_eq!(err.file(), None);
    let err = pool.open_file_as(FileId(5), &big).unwrap_err();
    names_the_path(&err, &big);
    assert_eq!(err.file(), Some(FileId(5)), "{err}");

    // A damaged sidecar: the message names the sidecar too.
    let damaged = dir.path().join("damaged.db");
    {
        let f = pool.open_file(&damaged).unwrap();
        drop(pool.new_page(f).unwrap());
        pool.close_file(f).unwrap();
    }
    let sidecar = bufpool::storage::sidecar_path(&damaged);
    std::fs::write(&sidecar, vec![0x5a; 4096]).unwrap();
    let err = pool.open_file(&damaged).unwrap_err();
    assert!(
        matches!(&err, Error::BadFileRecord { path: Some(p), file: None } if *p == damaged),
        "{err}"
    );
    let msg = names_the_path(&err, &damaged);
    assert!(msg.contains(&sidecar.display().to_string()), "{msg}");

    // The record cannot be read: a FIFO in the sidecar's place opens, but refuses a positioned read (ESPIPE).
    let unreadable = dir.path().join("unreadable.db");
    let made = std::process::Command::new("mkfifo")
        .arg(bufpool::storage::sidecar_path(&unreadable))
        .status()
        .unwrap();
    assert!(made.success());
    let err = pool.open_file(&unreadable).unwrap_err();
    match &err {
        Error::OpenIo {
            path: Some(p),
            file: None,
            op: "read record",
            source,
        } => {
            assert_eq!(*p, unreadable);
            assert_eq!(source.raw_os_error(), Some(libc::ESPIPE), "{source}");
        }
        other => panic!("{other:?}"),
    }
    let msg = names_the_path(&err, &unreadable);
    assert!(
        msg.starts_with(&format!("cannot open {}: read record failed: ", unreadable.display())),
        "{msg}"
    );

    // The OS refused the open.
    let nowhere = dir.path().join("no/such/dir/x.db");
    let err = pool.open_file(&nowhere).unwrap_err();
    assert!(matches!(&err, Error::Open { .. }), "{err}");
    names_the_path(&err, &nowhere);
}

/// E17-1, a storage: a refused `open_storage` names the id asked for, or none ("the storage"), never file 0.
#[test]
fn a_refused_storage_names_the_id_asked_for_or_none() {
    struct NoLength;
    impl bufpool::Storage for NoLength {
        fn len(&self) -> std::io::Result<u64> {
            Err(std::io::Error::from_raw_os_error(libc::EIO))
        }
        fn read_at(&self, _: &mut [u8], _: u64) -> std::io::Result<usize> {
            unreachable!()
        }
        fn write_at(&self, _: &[u8], _: u64) -> std::io::Result<()> {
            unreachable!()
        }
        fn sync(&self) -> std::io::Result<()> {
            unreachable!()
        }
        fn info(&self) -> bufpool::storage::StorageInfo {
            bufpool::storage::StorageInfo {
                backend: "no length",
                direct: false,
            }
        }
    }
    let pool = BufferPool::builder().frames(4).build().unwrap();
    let _file_0 = pool.open_storage(MemoryStorage::new()).unwrap();
    let err = pool.open_storage(NoLength).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::OpenIo {
                path: None,
                file: None,
                op: "stat",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().starts_with("cannot open the storage: stat failed: "),
        "{err}"
    );
    assert_eq!((err.file(), err.path()), (None, None));
    let err = pool.open_storage_as(FileId(9), NoLength).unwrap_err();
    assert!(
        err.to_string().starts_with("cannot open file 9: stat failed: "),
        "{err}"
    );
    assert_eq!(err.file(), Some(FileId(9)));

    // An unbound image of another page size.
    let image = {
        let pool = BufferPool::builder().frames(4).page_size(8192).build().unwrap();
        let storage = Arc::new(MemoryStorage::new());
        let f = pool.open_storage(storage.clone()).unwrap();
        drop(pool.new_page(f).unwrap());
        pool.close().unwrap();
        storage.snapshot()
    };
    let err = pool.open_storage(MemoryStorage::from_bytes(image)).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::PageSizeMismatch {
                path: None,
                file: None,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("the storage was written with 8192-byte pages"),
        "{err}"
    );
}
