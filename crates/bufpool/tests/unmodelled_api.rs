//! Session 38 (review38): public items the whole-API model (`tests/common/model.rs`) did not call, attacked at the
//! edges of their input (LSNs at the top of their range) and for what their docs promise. Each test tells the
//! story of one finding (R38-n in RELIABILITY.md, "Session 38 (2026-12-05, review38)"); R38-1 is in
//! `snapshots.rs`, beside the other snapshot tests. No sleep stands in for synchronisation.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bufpool::{BufferPool, CorruptReason, Error, FileId, MemoryStorage, PageId, PolicyKind};

/// R38-2: the written-LSN table (`BufferPool::written_lsns`, `expect_lsn` and the miss path's stale-write check)
/// kept an engine's expectation as a flag in the top bit of each entry, so LSNs at or above 2^63 were stored as
/// 2^63 - 1. A page written at such an LSN was listed by `written_lsns` at another LSN than it was written with, and
/// not at all by a `written_lsns` whose `after` was past 2^63 - 1 (its docs: every page this open wrote at an LSN
/// above `after`); and a write of it the device dropped came back as data, not as `Corrupt { StaleWrite }`, when the
/// page on disk was newer than 2^63 - 1 (`set_lsn` takes any `u64`).
#[test]
fn r38_2_lsns_at_or_above_2_pow_63_are_kept_whole() {
    const HIGH: u64 = 1 << 63;
    let pool = BufferPool::builder()
        .frames(8)
        .policy(PolicyKind::Fifo)
        .build()
        .unwrap();
    let storage = Arc::new(MemoryStorage::new());
    let file = pool.open_storage(storage.clone()).unwrap();
    let page = {
        let mut g = pool.new_page(file).unwrap();
        common::fill_page(&mut g, 0, 1);
        g.set_lsn(HIGH + 100);
        g.page_id()
    };
    pool.checkpoint().unwrap();
    assert_eq!(
        pool.written_lsns(file, 0, u64::MAX).unwrap(),
        vec![(0, HIGH + 100)],
        "written_lsns names the page at another LSN than it was written with"
    );
    assert_eq!(
        pool.written_lsns(file, HIGH, u64::MAX).unwrap(),
        vec![(0, HIGH + 100)],
        "written_lsns left out a page written above `after`"
    );

    // The next write of the page is dropped by the device (the image before it put back under the pool); once the
    // page is evicted, its read must not serve the older image.
    let older = storage.snapshot();
    {
        let mut g = pool.write(page).unwrap();
        common::fill_page(&mut g, 0, 2);
        g.set_lsn(HIGH + 200);
    }
    pool.checkpoint().unwrap();
    storage.with_bytes(|bytes| bytes[..older.len()].copy_from_slice(&older));
    for n in 1..=8 {
        let mut g = pool.new_page(file).unwrap();
        common::fill_page(&mut g, n, 1);
    }
    pool.checkpoint().unwrap();
    for n in 1..=8 {
        drop(pool.read(PageId::new(file, n)).unwrap());
    }
    assert!(
        !pool.resident_pages().iter().any(|p| p.page == page),
        "the page is still resident: the test did not evict it"
    );
    match pool.read(page) {
        Err(Error::Corrupt {
            reason: CorruptReason::StaleWrite { lsn, written },
            ..
        }) => assert_eq!((lsn, written), (HIGH + 100, HIGH + 200)),
        Err(e) => panic!("the dropped write's read failed otherwise: {e:?}"),
        Ok(g) => panic!(
            "a write the device dropped was served as data: generation {} of the page, written at LSN {}",
            common::check_page(&g, 0),
            g.lsn()
        ),
    };
}

/// R38-3: with `Builder::latch_times`, `held_latches` lists how long each latch has been held "without a break",
/// and `latches.rs` says a write guard downgraded to a read guard keeps its start ("the latch goes on"). The
/// downgrade ended the write guard's latch period and began a new one: a guard held for an hour, then downgraded
/// and leaked, was listed as taken just now (and, in debug builds, as taken at the downgrade's line). Polls the
/// pool's own figure until the latch has been held 20 ms (no sleep as synchronisation, no timing bound: the fixed
/// pool can only report more after the downgrade, and a stall makes main pass, never the fix fail).
#[test]
fn r38_3_a_downgraded_latch_keeps_its_start() {
    let pool = BufferPool::builder().frames(8).latch_times(true).build().unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    let page = pool.new_page(file).unwrap().page_id();
    let held_for = |pool: &BufferPool| {
        let latches = pool.held_latches();
        let latch = latches
            .iter()
            .find(|l| l.page == page)
            .expect("the page's latch is listed")
            .clone();
        (latch.held_for.expect("latch_times is on"), latch.taken_at)
    };
    let g = pool.write(page).unwrap();
    let deadline = Instant::now() + common::STEP_WAIT_MAX;
    while held_for(&pool).0 < Duration::from_millis(20) {
        assert!(Instant::now() < deadline, "the write guard's latch never reached 20 ms");
        std::thread::sleep(Duration::from_millis(1));
    }
    let (before, taken_at) = held_for(&pool);
    let g = g.downgrade();
    let (after, still_taken_at) = held_for(&pool);
    assert!(
        after >= before,
        "a latch held {before:?} by a write guard, downgraded without a break, was listed as held for {after:?}"
    );
    assert_eq!(
        still_taken_at, taken_at,
        "the downgraded latch is listed as taken elsewhere"
    );
    drop(g);
    assert!(pool.held_latches().is_empty());
}

/// R38-4: an open by path under a reserved id (`FileId(u32::MAX)`, which would make `PageId::INVALID`) was refused
/// with `InvalidConfig` only after the data file had been created and its record (the `.bpmeta` sidecar) written:
/// a refused call left a new, empty data file and its sidecar behind. An id in use was refused before anything was
/// opened; the reserved one is now refused the same way.
#[test]
fn r38_4_an_open_refused_for_a_reserved_id_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let pool = BufferPool::builder().frames(8).build().unwrap();
    let path = dir.path().join("reserved.db");
    assert!(matches!(
        pool.open_file_as(FileId(u32::MAX), &path),
        Err(Error::InvalidConfig(_))
    ));
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        left.is_empty(),
        "an open refused for a reserved id left files behind: {left:?}"
    );
    // The storage form is refused as before, and the id stays free for nothing.
    assert!(matches!(
        pool.open_storage_as(FileId(u32::MAX), MemoryStorage::new()),
        Err(Error::InvalidConfig(_))
    ));
    pool.open_file_as(FileId::MAX, &path).unwrap();
}
