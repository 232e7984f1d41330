//! `BufferPool::builder` at its edges (session 18, fault18): frame counts and page sizes out of range or whose
//! product overflows, a pool smaller than its writer's or its batches' needs, and settings that conflict. Each is
//! a typed error from `build`, or a pool that works; never a panic or an abort.

use std::time::Duration;

use bufpool::policy::Clock;
use bufpool::{BufferPool, Error, MemoryStorage, PageId, PolicyKind, Preset, WriterConfig, IO_THREADS_MAX};

fn invalid(result: bufpool::Result<BufferPool>, says: &str) {
    match result {
        Err(Error::InvalidConfig(why)) => assert!(why.contains(says), "{why:?} does not say {says:?}"),
        Err(other) => panic!("expected InvalidConfig saying {says:?}, got {other:?}"),
        Ok(_) => panic!("expected InvalidConfig saying {says:?}, the pool was built"),
    }
}

#[test]
fn frame_counts_out_of_range_are_refused() {
    invalid(BufferPool::builder().frames(0).build(), "frames must be in 1..=");
    invalid(
        BufferPool::builder().frames(usize::MAX).build(),
        "frames must be in 1..=",
    );
    invalid(
        BufferPool::builder().frames(u32::MAX as usize).build(),
        "frames must be in 1..=",
    );
}

/// R34-3: `io_threads` had no bound, and `build` spawned every thread asked for until the system refused one: a
/// configuration's `io_threads = 100000` took every thread the machine allows (here `pid_max` is 32,768, shared
/// by every process) before failing. On `4e97234` `io_threads(IO_THREADS_MAX + 1)` built (asserted first, so a
/// regression spawns 257 threads, not the machine's all). The bound itself builds and prefetches.
#[test]
fn io_threads_above_the_bound_are_refused() {
    invalid(
        BufferPool::builder().io_threads(IO_THREADS_MAX + 1).build(),
        "io_threads must be at most 256",
    );
    invalid(
        BufferPool::builder().io_threads(usize::MAX).build(),
        "io_threads must be at most 256",
    );
    let pool = BufferPool::builder()
        .frames(64)
        .io_threads(IO_THREADS_MAX)
        .build()
        .unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    for n in 0..8 {
        crate::common::fill_page(&mut pool.new_page(file).unwrap(), n, 1);
    }
    pool.checkpoint().unwrap();
    pool.drop_file(file).unwrap();
}

#[test]
fn page_sizes_not_a_power_of_two_or_out_of_range_are_refused() {
    for bytes in [
        0,
        1,
        64,
        512,
        2048,
        3000,
        4095,
        4097,
        6144,
        12288,
        1 << 17,
        usize::MAX,
        1 << 63,
    ] {
        invalid(
            BufferPool::builder().frames(4).page_size(bytes).build(),
            "is not a power of two from 4096 to 65536",
        );
    }
}

/// The largest pool the settings allow, (u32::MAX - 1) frames of 64 KiB: 2^48 bytes, which fit a 64-bit
/// address space (the `InvalidConfig` "do not fit" check is for 32-bit targets), but not this machine: the
/// allocation is refused and reported, having taken nothing.
#[test]
fn the_largest_pool_is_out_of_memory_not_an_abort() {
    match BufferPool::builder()
        .frames(u32::MAX as usize - 1)
        .page_size(65536)
        .build()
    {
        Err(Error::OutOfMemory { frames, bytes }) => {
            assert_eq!(
                (frames, bytes),
                (u32::MAX as usize - 1, (u32::MAX as usize - 1) * 65536)
            );
        }
        Err(other) => panic!("expected OutOfMemory, got {other:?}"),
        Ok(_) => panic!("a pool of 2^48 bytes was built"),
    }
}

/// The smallest pool, with every background thread and batch on: one frame serves misses, new pages, batches
/// and prefetch (each batch reserves at most a quarter of the pool, at least one frame).
#[test]
fn a_one_frame_pool_with_writer_and_prefetch_works() {
    // The one frame may be the background writer's or a prefetch's for a moment when a read misses: the read
    // waits for it, with the default `frame_wait` of zero (the pool's own holds are waited for up to a second).
    // The last read failed once in CI with `PoolExhausted` (R31-O1): the prefetch's load had left its count before
    // its frame was released (R32-1, `own_holds_are_waited_for.rs` forces that moment).
    let pool = BufferPool::builder()
        .frames(1)
        .io_threads(2)
        .background_writer(WriterConfig::for_frames(1))
        .build()
        .unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    for n in 0..8u8 {
        pool.new_page(file).unwrap()[0] = n;
    }
    let pages: Vec<PageId> = (0..8).map(|n| PageId::new(file, n)).collect();
    let mut seen = vec![None; 8];
    pool.read_many(&pages, |i, page| seen[i] = Some(page.map(|g| g[0])));
    for (n, got) in seen.into_iter().enumerate() {
        assert_eq!(got.unwrap().unwrap(), n as u8);
    }
    pool.prefetch(&pages).unwrap();
    assert_eq!(pool.read(pages[7]).unwrap()[0], 7);
    pool.checkpoint().unwrap();
}

/// A writer set up for more free frames than the pool has (a preset applied before `frames`, which makes the
/// writer for the default 1024 frames; or a `WriterConfig` for another pool) is refused, naming the setting.
#[test]
fn a_writer_that_wants_more_frames_than_the_pool_has_is_refused() {
    invalid(
        BufferPool::builder().preset(Preset::Oltp).frames(8).build(),
        "WriterConfig::free_frames_target must be at most the pool's 8 frames",
    );
    invalid(
        BufferPool::builder()
            .frames(4)
            .background_writer(WriterConfig::for_frames(1024))
            .build(),
        "free_frames_target",
    );
    invalid(
        BufferPool::builder()
            .frames(4)
            .background_writer(WriterConfig {
                interval: Duration::ZERO,
                ..WriterConfig::for_frames(4)
            })
            .build(),
        "WriterConfig::interval",
    );
    // The other order works: the preset sizes its writer for the frames set before it.
    BufferPool::builder().frames(8).preset(Preset::Oltp).build().unwrap();
}

/// A custom policy made for fewer frames than the pool has would be handed frame indices it has no room for.
#[test]
fn a_custom_policy_built_for_fewer_frames_is_refused() {
    invalid(
        BufferPool::builder()
            .frames(64)
            .custom_policy(Box::new(Clock::new(4)))
            .build(),
        "custom policy",
    );
    // Built for the pool's frames, or more, it works; `policy` after it replaces it.
    for frames in [64, 128] {
        let pool = BufferPool::builder()
            .frames(64)
            .custom_policy(Box::new(Clock::new(frames)))
            .build()
            .unwrap();
        let file = pool.open_storage(MemoryStorage::new()).unwrap();
        for _ in 0..200 {
            drop(pool.new_page(file).unwrap());
        }
    }
    BufferPool::builder()
        .frames(64)
        .custom_policy(Box::new(Clock::new(4)))
        .policy(PolicyKind::Clock)
        .build()
        .unwrap();
}

/// Durations at their extremes: no overflow of a deadline anywhere.
#[test]
fn extreme_durations_build_and_run() {
    let pool = BufferPool::builder()
        .frames(4)
        .io_spin(Duration::MAX)
        .slow_io(Duration::MAX)
        .frame_wait(Duration::ZERO)
        .background_writer(WriterConfig {
            interval: Duration::MAX,
            ..WriterConfig::for_frames(4)
        })
        .failed_file_frames(usize::MAX)
        .build()
        .unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    for _ in 0..16 {
        drop(pool.new_page(file).unwrap());
    }
    pool.checkpoint().unwrap();
    drop(pool); // the writer, asleep for `Duration::MAX`, stops at once
}

/// R18-23: a writer whose `batch_pages` is above the pool's frames (`usize::MAX` here) wrote nothing: its
/// first write-back round reserved room for `batch_pages` pages (`Vec::with_capacity`), which panicked with a
/// capacity overflow in the writer thread (a large value short of it aborts the process on the failed
/// allocation). `build` accepts it (any value from 1 is a valid setting); the round now takes at most every frame.
#[test]
fn a_writer_batch_above_the_frames_writes_back() {
    for batch_pages in [usize::MAX, usize::MAX / 2, 1 << 40] {
        let pool = BufferPool::builder()
            .frames(16)
            .background_writer(WriterConfig {
                interval: Duration::from_millis(1),
                dirty_ratio_max: 0.0,
                batch_pages,
                ..WriterConfig::for_frames(16)
            })
            .build()
            .unwrap();
        let file = pool.open_storage(MemoryStorage::new()).unwrap();
        for _ in 0..8 {
            drop(pool.new_page(file).unwrap());
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while pool.stats().dirty > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "batch_pages {batch_pages}: the writer never wrote back: {}",
                pool.stats()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(pool.file_stats(file).unwrap().writes, 8);
    }
}
