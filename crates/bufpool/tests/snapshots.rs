//! MVCC snapshots (issue 12): while a snapshot is open, pages whose LSN is at or above the oldest open snapshot's
//! stay resident; refusals are counted by reason; and when protection leaves a miss no victim at all it fails at
//! once with `Error::AllProtected`, not after `Builder::frame_wait` (here an hour: a wait would hang the test),
//! and not with `PoolExhausted`, which tells the caller to drop guards it may not hold.

use crate::common;

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use bufpool::{BufferPool, Error, FileId, MemoryStorage, PageId, PolicyKind, SnapshotTracker};

const FRAMES: usize = 8;
const PAGES: u32 = 40;

/// A pool of FRAMES frames over a file of PAGES pages, page `n` written with LSN `n + 1` and clean, nothing
/// resident.
fn pool_with(snapshots: SnapshotTracker, veto: Option<Arc<AtomicBool>>) -> (BufferPool, FileId) {
    let mut b = BufferPool::builder()
        .frames(FRAMES)
        .policy(PolicyKind::Fifo)
        .frame_wait(Duration::from_secs(3600))
        .snapshots(snapshots);
    if let Some(v) = veto {
        b = b.eviction_veto(move |_| v.load(SeqCst));
    }
    let pool = b.build().unwrap();
    let storage = Arc::new(MemoryStorage::new());
    let file = pool.open_storage(storage.clone()).unwrap();
    for n in 0..PAGES {
        let mut g = pool.new_page(file).unwrap();
        common::fill_page(&mut g, n, 1);
        g.set_lsn(u64::from(n) + 1);
    }
    pool.checkpoint().unwrap();
    pool.drop_file(file).unwrap();
    let file = pool.open_storage(storage).unwrap();
    (pool, file)
}

fn read(pool: &BufferPool, file: FileId, n: u32) -> bufpool::Result<()> {
    let g = pool.read(PageId::new(file, n))?;
    assert_eq!(common::check_page(&g, n), 1);
    Ok(())
}

#[test]
fn pages_at_or_above_the_oldest_snapshot_stay_resident() {
    let snapshots = SnapshotTracker::new();
    let (pool, file) = pool_with(snapshots.clone(), None);
    // Resident: pages 30..34 (LSN 31..35) and 0..4.
    for n in (30..34).chain(0..4) {
        read(&pool, file, n).unwrap();
    }
    let snap = snapshots.begin(32); // protects LSN >= 32: pages 31, 32, 33
    let later = snapshots.begin(34);
    assert_eq!(snapshots.oldest(), Some(32));
    let before = pool.stats();
    for n in 4..24 {
        read(&pool, file, n).unwrap();
    }
    let after = pool.stats();
    assert!(
        after.snapshot_skips > before.snapshot_skips,
        "protected pages were offered and refused"
    );
    // The protected pages never left: reading them now misses nothing.
    for n in 31..34 {
        read(&pool, file, n).unwrap();
    }
    assert_eq!(pool.stats().misses, after.misses, "pages 31..34 stayed resident");
    // Page 30 (LSN 31) was below the watermark: it went.
    read(&pool, file, 30).unwrap();
    assert_eq!(pool.stats().misses, after.misses + 1);

    // The oldest snapshot ends: the watermark moves up to 34, and pages 31 and 32 (LSN 32, 33) may go.
    drop(snap);
    assert_eq!(snapshots.oldest(), Some(34));
    for n in 4..24 {
        read(&pool, file, n).unwrap();
    }
    let m = pool.stats().misses;
    read(&pool, file, 33).unwrap();
    assert_eq!(pool.stats().misses, m, "page 33 (LSN 34) is still protected");
    read(&pool, file, 31).unwrap();
    assert_eq!(
        pool.stats().misses,
        m + 1,
        "page 31 (LSN 32) was evicted once unprotected"
    );
    drop(later);
    assert_eq!(snapshots.oldest(), None);
}

#[test]
fn protection_that_leaves_no_victim_fails_at_once() {
    let snapshots = SnapshotTracker::new();
    let (pool, file) = pool_with(snapshots.clone(), None);
    for n in 0..FRAMES as u32 {
        read(&pool, file, n).unwrap();
    }
    let snap = snapshots.begin(0); // every page is at or above LSN 0
    let exhausted = pool.stats().exhausted;
    match read(&pool, file, 20) {
        Err(Error::AllProtected {
            frames,
            snapshot_skips,
            veto_skips: 0,
            oldest_snapshot: Some(0),
        }) => {
            assert_eq!(frames, FRAMES);
            assert!(
                snapshot_skips >= FRAMES as u64,
                "every frame was offered: {snapshot_skips}"
            );
        }
        other => panic!("expected AllProtected, got {other:?}"),
    }
    assert!(matches!(
        pool.new_page(file).map(|g| g.page_id()),
        Err(Error::AllProtected { .. })
    ));
    assert_eq!(pool.stats().exhausted, exhausted + 2);
    // Every resident page still reads (hits), and the snapshot's end frees the pool.
    for n in 0..FRAMES as u32 {
        read(&pool, file, n).unwrap();
    }
    drop(snap);
    read(&pool, file, 20).unwrap();
}

/// A guard holds one frame and protection the rest: waiting could free the guard's frame, so this is not
/// `AllProtected`; with `frame_wait` zero it is the usual `PoolExhausted`.
/// A pool of FRAMES frames, each holding a new page `n` (dirty) at LSN `lsn(n)`.
fn pool_full_of(snapshots: SnapshotTracker, lsn: impl Fn(u32) -> u64) -> (BufferPool, FileId) {
    let pool = BufferPool::builder()
        .frames(FRAMES)
        .policy(PolicyKind::Fifo)
        .snapshots(snapshots)
        .build()
        .unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    for n in 0..FRAMES as u32 {
        let mut g = pool.new_page(file).unwrap();
        common::fill_page(&mut g, n, 1);
        g.set_lsn(lsn(n));
    }
    (pool, file)
}

#[test]
fn a_latched_frame_makes_it_ordinary_exhaustion() {
    let snapshots = SnapshotTracker::new();
    let (pool, file) = pool_full_of(snapshots.clone(), |n| u64::from(n) + 1);
    let held = pool.read(PageId::new(file, 0)).unwrap();
    let _snap = snapshots.begin(2); // protects every page but page 0, which the guard holds
    assert!(matches!(
        pool.new_page(file).map(|g| g.page_id()),
        Err(Error::PoolExhausted { .. })
    ));
    drop(held);
    // Page 0 (LSN 1) is below the watermark and unlatched now: it is the victim.
    assert!(pool.new_page(file).is_ok());
}

#[test]
fn a_veto_that_protects_everything_fails_at_once_too() {
    let veto_all = Arc::new(AtomicBool::new(false));
    let (pool, file) = pool_with(SnapshotTracker::new(), Some(veto_all.clone()));
    for n in 0..FRAMES as u32 {
        read(&pool, file, n).unwrap();
    }
    veto_all.store(true, SeqCst);
    assert!(matches!(
        read(&pool, file, 20),
        Err(Error::AllProtected {
            snapshot_skips: 0,
            oldest_snapshot: None,
            ..
        })
    ));
    let st = pool.stats();
    assert!(st.veto_skips >= FRAMES as u64 && st.snapshot_skips == 0);
    veto_all.store(false, SeqCst);
    read(&pool, file, 20).unwrap();
}

/// R38-1 (session 38, review38; RELIABILITY.md): `Builder::snapshots` marked "no snapshot open" with `u64::MAX` in the watermark, and a page is protected
/// when its LSN is at or above the watermark: with no snapshot open at all, a page whose LSN is `u64::MAX` (a
/// valid `Lsn`: `set_lsn` takes any) could never be evicted, and a pool of such pages failed every miss with
/// `AllProtected { oldest_snapshot: None }`: protected by a snapshot that does not exist. The other side: a
/// snapshot begun at `u64::MAX` was open, protected pages at `u64::MAX`, and `oldest()` said none was open.
#[test]
fn r38_1_a_page_at_the_highest_lsn_is_not_protected_without_a_snapshot() {
    let snapshots = SnapshotTracker::new();
    // Every frame holds a page at the highest LSN, written and clean: nothing but the snapshots keeps them.
    let (pool, file) = pool_full_of(snapshots.clone(), |_| u64::MAX);
    pool.checkpoint().unwrap();
    assert_eq!(snapshots.oldest(), None);
    assert_eq!(snapshots.open_snapshots(), 0);
    // No snapshot is open: the next page takes a frame.
    let next = pool.new_page(file).map(|g| g.page_id());
    assert!(
        next.is_ok(),
        "with no snapshot open, a miss found every page at LSN u64::MAX protected: {next:?}"
    );
    assert_eq!(
        pool.stats().snapshot_skips,
        0,
        "pages refused for a snapshot that is not open"
    );

    // A snapshot at the highest LSN is an open snapshot, and protects pages at that LSN: the one frame whose page
    // is below it (the page just made) is taken once more, then every frame is protected.
    let snap = snapshots.begin(u64::MAX);
    assert_eq!(
        snapshots.oldest(),
        Some(u64::MAX),
        "an open snapshot at u64::MAX reported as none"
    );
    pool.checkpoint().unwrap();
    let mut g = pool.new_page(file).unwrap();
    g.set_lsn(u64::MAX);
    drop(g);
    pool.checkpoint().unwrap();
    let pages = pool.resident_pages();
    assert!(
        pages.len() == FRAMES && pages.iter().all(|p| p.lsn == u64::MAX),
        "{pages:?}"
    );
    match pool.new_page(file) {
        Err(Error::AllProtected { oldest_snapshot, .. }) => assert_eq!(oldest_snapshot, Some(u64::MAX)),
        other => panic!(
            "a snapshot at u64::MAX protected nothing: {:?}",
            other.map(|g| g.page_id())
        ),
    }
    drop(snap);
    assert_eq!(snapshots.oldest(), None);
    pool.new_page(file).unwrap();
}
