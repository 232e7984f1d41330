//! R13-3 (RELIABILITY.md): `Builder::frame_wait(Duration::MAX)`, "wait for a frame as long as it takes", panicked
//! (`overflow when adding duration to instant`) in the first miss that found every frame latched by a guard:
//! the wait's deadline was computed as `start + frame_wait`. The library must not panic on a setting it accepts;
//! the wait is now measured as the time elapsed since it started, which cannot overflow.

use std::sync::mpsc;
use std::time::Duration;

use bufpool::{BufferPool, MemoryStorage, PageId};

#[test]
fn a_miss_waits_for_a_frame_with_the_longest_wait_allowed() {
    let pool = BufferPool::builder()
        .frames(1)
        .frame_wait(Duration::MAX)
        .build()
        .unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    for i in 0..2u8 {
        let mut g = pool.new_page(file).unwrap();
        g[0] = i + 1;
    }
    // The only frame, held by a guard here while another thread misses on the other page.
    let held = pool.read(PageId::new(file, 0)).unwrap();
    assert_eq!(held[0], 1);
    let (started, waiting) = mpsc::channel();
    std::thread::scope(|s| {
        let miss = s.spawn(|| {
            started.send(()).unwrap();
            pool.read(PageId::new(file, 1)).map(|g| g[0])
        });
        waiting.recv().unwrap();
        // Let the miss find the frame latched (it would wait whatever the delay; this only makes the waiting
        // path the likely one).
        std::thread::sleep(Duration::from_millis(50));
        drop(held);
        let got = miss.join().expect("the waiting miss panicked");
        assert_eq!(got.unwrap(), 2);
    });
}
