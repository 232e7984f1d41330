//! Presets (issue 12, seed 000): `Builder::preset` applies a workload's settings, and settings made after it
//! override them. The Oltp preset's background writer is really running: dirty pages go out without a flush.

use crate::common;

use std::time::{Duration, Instant};

use bufpool::{BufferPool, PolicyKind, Preset};

#[test]
fn presets_set_their_policy_and_later_settings_win() {
    for &preset in Preset::ALL {
        let pool = BufferPool::builder().frames(256).preset(preset).build().unwrap();
        assert_eq!(pool.policy_name(), preset.policy().name());
        assert!(preset.scan_ring_frames() >= bufpool::SCAN_RING_MIN);
        let mut ring = pool.scan_ring(preset.scan_ring_frames());
        assert_eq!(ring.len(), preset.scan_ring_frames().min(256 / 4));
        let file = pool.open_storage(bufpool::MemoryStorage::new()).unwrap();
        drop(pool.new_page(file).unwrap());
        drop(ring.read(bufpool::PageId::new(file, 0)).unwrap());
    }
    assert_eq!(Preset::Oltp.policy().name(), "s3-fifo");
    assert_eq!(Preset::Analytics.policy().name(), "w-tinylfu");
    let pool = BufferPool::builder()
        .frames(64)
        .preset(Preset::Analytics)
        .policy(PolicyKind::Clock)
        .build()
        .unwrap();
    assert_eq!(pool.policy_name(), "clock", "a setting after the preset overrides it");
}

#[test]
fn the_oltp_preset_runs_a_background_writer() {
    assert!(Preset::Oltp.background_writer(64).is_some());
    assert!(Preset::Analytics.background_writer(64).is_none());
    let pool = BufferPool::builder().frames(64).preset(Preset::Oltp).build().unwrap();
    let storage = common::Instrumented::new();
    let file = pool.open_storage(storage.clone()).unwrap();
    for n in 0..32 {
        common::fill_page(&mut pool.new_page(file).unwrap(), n, 1);
    }
    // Half the frames dirty, above the writer's 10%: it writes them back without any call of ours. (The bound
    // only keeps a broken writer from hanging the test.)
    let deadline = Instant::now() + Duration::from_secs(30);
    while pool.stats().dirty > 64 / 10 {
        assert!(
            Instant::now() < deadline,
            "the background writer never ran: {}",
            pool.stats()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(pool.stats().writes > 0);
}
