//! The background writer's page budget (`WriterConfig::pages_per_sec_max`): a token bucket that starts full
//! (one second's pages) and refills at the rate. Checked by counting pages written against what the bucket can
//! have granted by the time the count was read (elapsed measured *after* reading the count, so the bound is
//! generous and cannot flake), and that the budget does not stop progress.

use crate::common;

use std::time::{Duration, Instant};

use bufpool::{BufferPool, MemoryStorage, WriterConfig};

const RATE: u64 = 40;

fn writer(free_frames_target: usize, dirty_ratio_max: f64) -> WriterConfig {
    WriterConfig {
        interval: Duration::from_millis(1),
        free_frames_target,
        dirty_ratio_max,
        pages_per_sec_max: RATE,
        batch_pages: 32,
    }
}

/// Writes by the writer (nothing else writes here) stay within the bucket: at most `RATE * (1 + elapsed)`.
fn watch_budget(pool: &BufferPool, start: Instant, until_writes: u64) -> u64 {
    let mut writes = 0;
    while writes < until_writes && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
        writes = pool.stats().writes;
        let allowed = RATE as f64 * (1.0 + start.elapsed().as_secs_f64());
        assert!(
            writes as f64 <= allowed,
            "{writes} pages written, the budget allows {allowed:.0} by now"
        );
    }
    writes
}

#[test]
fn dirty_write_back_respects_pages_per_sec_max() {
    let pool = BufferPool::builder()
        .frames(512)
        .background_writer(writer(0, 0.0))
        .build()
        .unwrap();
    let f = pool.open_storage(MemoryStorage::new()).unwrap();
    let start = Instant::now();
    for n in 0..400 {
        common::fill_page(&mut pool.new_page(f).unwrap(), n, 1);
    }
    // Progress: more than the initial bucket gets written (the rate refills it), within the 20 s cap.
    let writes = watch_budget(&pool, start, RATE + RATE / 2);
    assert!(writes > RATE, "the writer stopped at {writes} pages");
    // And a checkpoint (not the writer) is not limited: it writes all the rest at once.
    pool.checkpoint().unwrap();
    assert_eq!(pool.stats().dirty, 0);
    // Every page written once: when the writer and the checkpoint meet on a page, the second waits for the first's
    // write and finds the page clean (R49-1 in RELIABILITY.md: a page written twice at once could land after the
    // checkpoint's sync).
    assert_eq!(pool.stats().writes, 400);
}

#[test]
fn free_frame_refill_respects_pages_per_sec_max() {
    let pool = BufferPool::builder()
        .frames(64)
        .background_writer(writer(48, 1.0))
        .build()
        .unwrap();
    let f = pool.open_storage(MemoryStorage::new()).unwrap();
    let start = Instant::now();
    // Fill every frame with a dirty page: keeping 48 frames free means writing 48 dirty victims.
    for n in 0..64 {
        common::fill_page(&mut pool.new_page(f).unwrap(), n, 1);
    }
    let writes = watch_budget(&pool, start, 48);
    assert!(writes >= 48, "the refill stopped at {writes} pages");
    assert!(pool.stats().evictions >= 48);
}
