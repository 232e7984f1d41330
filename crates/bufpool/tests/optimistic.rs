//! Optimistic readers never return a result computed from a page that changed under them. A writer keeps
//! rewriting one page with a pattern whose halves must agree; optimistic readers copy both halves and must always
//! see them equal. Out-of-range reads on a consistent page come back as `InvalidAccess`, not a panic.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

use bufpool::{BufferPool, Error, MemoryStorage, PageId};

#[test]
fn readers_never_see_torn_pages() {
    let pool = BufferPool::builder().frames(4).build().unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    let page = pool.new_page(file).unwrap().page_id();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0u64..20_000 {
                let mut g = pool.write(page).unwrap();
                let half = g.len() / 2;
                g[..half].fill(i as u8);
                g[half..2 * half].fill(i as u8);
            }
            stop.store(true, SeqCst);
        });
        for _ in 0..2 {
            s.spawn(|| {
                let mut checks = 0u64;
                while !stop.load(SeqCst) || checks < 1000 {
                    let (a, b) = pool
                        .read_optimistic(page, |v| {
                            let half = v.len() / 2;
                            (v.read_u64(0), v.read_u64(half + 64))
                        })
                        .unwrap();
                    assert_eq!(a, b, "optimistic read returned a torn page");
                    checks += 1;
                }
            });
        }
    });
    let st = pool.stats();
    assert!(st.hits > 1000);
}

#[test]
fn out_of_range_view_access_is_an_error() {
    let pool = BufferPool::builder().frames(4).build().unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    drop(pool.new_page(file).unwrap());
    let r = pool.read_optimistic(PageId::new(file, 0), |v| v.read_u64(v.len() - 4));
    assert!(matches!(r, Err(Error::InvalidAccess { len: 8, .. })), "{r:?}");
    let mut buf = [1u8; 16];
    let r = pool.read_optimistic(PageId::new(file, 0), |v| v.read_into(usize::MAX - 3, &mut buf));
    assert!(matches!(r, Err(Error::InvalidAccess { .. })));
    assert_eq!(
        pool.read_optimistic(PageId::new(file, 0), |v| v.read_u32(0)).unwrap(),
        0
    );
}

#[test]
fn u64_reads_at_every_offset_match_the_page_bytes() {
    // Every offset of the user region, aligned or not, reads exactly its 8 bytes; any read past the end is
    // `InvalidAccess`.
    let pool = BufferPool::builder().frames(4).build().unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    let (page, bytes) = {
        let mut g = pool.new_page(file).unwrap();
        for (i, b) in g.iter_mut().enumerate() {
            *b = (i.wrapping_mul(131) % 251) as u8 ^ (i >> 8) as u8;
        }
        (g.page_id(), g.to_vec())
    };
    let len = bytes.len();
    let read = pool
        .read_optimistic(page, |v| (0..=len - 8).map(|o| v.read_u64(o)).collect::<Vec<u64>>())
        .unwrap();
    for (o, got) in read.iter().enumerate() {
        let want = u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap());
        assert_eq!(*got, want, "read_u64({o})");
    }
    for o in [len - 7, len - 1, len, len + 3, usize::MAX - 3] {
        let r = pool.read_optimistic(page, |v| v.read_u64(o));
        assert!(
            matches!(r, Err(Error::InvalidAccess { offset, len: 8 }) if offset == o),
            "read_u64({o}): {r:?}"
        );
    }
}

#[test]
fn word_reads_clamp_to_the_last_word() {
    let pool = BufferPool::builder().frames(4).build().unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    let page = {
        let mut g = pool.new_page(file).unwrap();
        for (i, b) in g.iter_mut().enumerate() {
            *b = (i % 251) as u8;
        }
        g.page_id()
    };
    let (words, expect, past) = pool
        .read_optimistic(page, |v| {
            let words = v.len() / 8;
            let expect: Vec<(u64, u64)> = (0..words).map(|i| (v.read_word(i), v.read_u64(8 * i))).collect();
            let past = [words, words + 1, usize::MAX].map(|i| v.read_word(i));
            (words, expect, past)
        })
        .unwrap();
    assert_eq!(expect.len(), words);
    assert!(
        expect.iter().all(|(w, u)| w == u),
        "a word read is the aligned u64 read"
    );
    let last = expect[words - 1].0;
    assert_eq!(
        past, [last; 3],
        "an index past the end reads the last word, and is no error"
    );
}

#[test]
fn optimistic_read_loads_a_missing_page() {
    let pool = BufferPool::builder().frames(2).build().unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    for i in 0..5u8 {
        pool.new_page(file).unwrap()[0] = i + 1;
    }
    for i in 0..5u8 {
        assert_eq!(
            pool.read_optimistic(PageId::new(file, i as u32), |v| v.read_u8(0))
                .unwrap(),
            i + 1
        );
    }
}

/// `read_optimistic` runs the caller's closure once a call, on a hit (no latch), on a miss (under the shared
/// latch of the load) and never when the caller's own write guard holds the page, and counts each path as itself:
/// a hit, a miss (not a fallback), `HeldByCaller` (nothing). Written for session 23's hit path (a version that
/// called the closure from one place for both the hit and the fallback, dropped); it pins what a call does on each
/// path.
#[test]
fn closure_runs_once_a_call_and_each_path_counts_as_itself() {
    let pool = BufferPool::builder().frames(2).build().unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    for i in 0..3u8 {
        pool.new_page(file).unwrap()[0] = i + 1;
    }
    let runs = std::cell::Cell::new(0);
    let read = |p: u32| {
        pool.read_optimistic(PageId::new(file, p), |v| {
            runs.set(runs.get() + 1);
            v.read_u8(0)
        })
    };
    // Two of the three pages are resident: one to hit, the other one to miss.
    let resident: Vec<u32> = pool.resident_pages().iter().map(|r| r.page.page_no()).collect();
    assert_eq!(resident.len(), 2);
    let (hit_page, missed) = (resident[0], (0..3).find(|p| !resident.contains(p)).unwrap());
    let before = pool.stats();
    assert_eq!(read(hit_page).unwrap(), hit_page as u8 + 1);
    let hit = pool.stats();
    assert_eq!(
        (runs.get(), hit.hits - before.hits, hit.misses - before.misses),
        (1, 1, 0)
    );
    assert_eq!(read(missed).unwrap(), missed as u8 + 1);
    let miss = pool.stats();
    assert_eq!((runs.get(), miss.hits - hit.hits, miss.misses - hit.misses), (2, 0, 1));
    assert_eq!(
        miss.optimistic_fallbacks, before.optimistic_fallbacks,
        "a miss is not a fallback"
    );
    assert_eq!(miss.optimistic_retries, before.optimistic_retries);
    let g = pool.write(PageId::new(file, missed)).unwrap();
    assert!(matches!(read(missed), Err(Error::HeldByCaller { .. })));
    assert_eq!(runs.get(), 2, "no run under the caller's own write guard");
    drop(g);
    assert_eq!(read(missed).unwrap(), missed as u8 + 1);
    assert_eq!(runs.get(), 3);
}
