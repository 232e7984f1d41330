//! Every frame latched by guards: the next miss must fail with `PoolExhausted` (not hang, not panic), and the
//! frames must come back as soon as the guards drop.

use bufpool::{BufferPool, Error, MemoryStorage, PageId};

#[test]
fn all_frames_latched_then_released() {
    let pool = BufferPool::builder().frames(8).build().unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    for _ in 0..16 {
        drop(pool.new_page(file).unwrap());
    }
    let mut guards: Vec<_> = (0..4).map(|n| pool.read(PageId::new(file, n)).unwrap()).collect();
    let mut wguards: Vec<_> = (4..8).map(|n| pool.write(PageId::new(file, n)).unwrap()).collect();
    match pool.read(PageId::new(file, 12)) {
        Err(Error::PoolExhausted { frames: 8, .. }) => {}
        other => panic!("expected PoolExhausted, got {other:?}"),
    }
    assert!(matches!(pool.new_page(file), Err(Error::PoolExhausted { .. })));
    assert_eq!(pool.stats().exhausted, 2);
    // A resident page can still be shared while everything is pinned.
    assert!(pool.read(PageId::new(file, 0)).is_ok());
    guards.pop();
    assert!(pool.read(PageId::new(file, 12)).is_ok(), "one frame back is enough");
    guards.clear();
    wguards.clear();
    for n in 0..16 {
        drop(pool.read(PageId::new(file, n)).unwrap());
    }
    assert_eq!(
        pool.file_pages(file).unwrap(),
        16,
        "the failed new_page gave its page number back"
    );
}
