//! `ReadGuard::try_upgrade`: a check-then-modify path reads under a shared latch and turns it into the exclusive
//! one only when it must change the page. The upgrade succeeds only for the sole shared holder; it gives the guard
//! back otherwise (another reader, or a file that refuses writes), never waits, and never lets a second writer in
//! between the check and the change.

use crate::common;

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

use bufpool::{BufferPool, Error, MemoryStorage, PageId};

#[test]
fn sole_reader_upgrades_and_the_change_is_written() {
    let pool = BufferPool::builder().frames(4).build().unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    let page = pool.new_page(file).unwrap().page_id();
    pool.checkpoint().unwrap();
    assert_eq!(pool.stats().dirty, 0);

    let g = pool.read(page).unwrap();
    assert_eq!(g[0], 0);
    let mut w = g.try_upgrade().expect("the only reader upgrades");
    w[0] = 7;
    w.set_lsn(3);
    assert_eq!(pool.stats().dirty, 1, "an upgraded guard marks the page dirty");
    // Back down, then up again: the round trip keeps the latch throughout.
    let g = w.downgrade();
    assert_eq!(g[0], 7);
    let w = g.try_upgrade().unwrap();
    drop(w);
    pool.checkpoint().unwrap();
    assert_eq!(pool.stats().dirty, 0);
    assert_eq!(pool.read(page).unwrap().lsn(), 3);
}

#[test]
fn a_second_reader_refuses_the_upgrade_and_keeps_both_latches() {
    let pool = BufferPool::builder().frames(4).build().unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    let page = pool.new_page(file).unwrap().page_id();
    let a = pool.read(page).unwrap();
    let b = pool.read(page).unwrap();
    let a = a.try_upgrade().expect_err("b also holds a shared latch");
    let b = b.try_upgrade().expect_err("a also holds a shared latch");
    assert_eq!(a.page_id(), page);
    drop(b);
    let mut w = a.try_upgrade().expect("now a is alone");
    w[0] = 1;
    drop(w);
    assert_eq!(pool.read(page).unwrap()[0], 1);
}

#[test]
fn a_failed_file_refuses_the_upgrade_as_write_does() {
    let storage = common::Instrumented::new();
    let pool = BufferPool::builder().frames(4).build().unwrap();
    let file = pool.open_storage(storage.clone()).unwrap();
    let page = pool.new_page(file).unwrap().page_id();
    storage.fail_writes.store(true, SeqCst);
    assert!(pool.flush(page).is_err());
    storage.fail_writes.store(false, SeqCst);
    assert!(matches!(pool.write(page), Err(Error::FileFailed { .. })));
    let g = pool.read(page).unwrap();
    let g = g.try_upgrade().expect_err("the file refuses writes");
    drop(g);
    assert!(matches!(pool.write(page), Err(Error::FileFailed { .. })));
}

/// Check-then-modify from several threads: each reads a counter under a shared latch and, if it can upgrade,
/// increments what it read; otherwise it falls back to `write` and re-reads. No increment is lost, which would
/// happen if a writer could get in between the shared read and the upgraded write.
#[test]
fn no_change_gets_in_between_check_and_upgrade() {
    let pool = BufferPool::builder().frames(8).build().unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    let page: PageId = pool.new_page(file).unwrap().page_id();
    let upgrades = AtomicU64::new(0);
    const THREADS: u64 = 4;
    const ROUNDS: u64 = 2_000;
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..ROUNDS {
                    let g = pool.read(page).unwrap();
                    let seen = u64::from_le_bytes(g[..8].try_into().unwrap());
                    match g.try_upgrade() {
                        Ok(mut w) => {
                            w[..8].copy_from_slice(&(seen + 1).to_le_bytes());
                            upgrades.fetch_add(1, SeqCst);
                        }
                        Err(g) => {
                            drop(g);
                            let mut w = pool.write(page).unwrap();
                            let now = u64::from_le_bytes(w[..8].try_into().unwrap());
                            w[..8].copy_from_slice(&(now + 1).to_le_bytes());
                        }
                    }
                }
            });
        }
    });
    let total = pool.read_optimistic(page, |v| v.read_u64(0)).unwrap();
    assert_eq!(total, THREADS * ROUNDS, "an increment was lost");
    assert!(upgrades.load(SeqCst) > 0, "no upgrade ever succeeded");
}
