//! The statistics an operator reads, under every built-in policy (bare and behind TinyLFU admission) and one
//! randomized single-threaded workload over the whole page API, against a model of each page's bytes (review34,
//! tasks 1 and 3). After every call, with no guard held:
//!
//! - every page served holds its own bytes, at the generation the model last wrote;
//! - `resident <= frames`, `dirty <= resident`, `latched == 0`, and `resident_pages()` lists `resident` pages,
//!   each one the model has allocated;
//! - counters that must agree do: `reads == read_latency.count`, `syncs == sync_latency.count`,
//!   `write_latency.count <= writes`, and `writes` is the sum of its four sources;
//! - requests add up: each `read`, `write`, `read_optimistic`, scan ring read and `read_many` page is one hit, one
//!   miss or one `exhausted` (nothing else in this workload fails), and a page `prefetch` loaded is one miss;
//! - per file: the open files' hits, misses, reads and writes plus those of the files closed or dropped so far
//!   equal the pool's; a file reopened under the id of a closed or dropped one starts from zero (it inherits
//!   none of the old file's figures);
//! - after a checkpoint, `dirty == 0`.
//!
//! Then the same figures read while four threads change them: a snapshot is read counter by counter, not at one
//! instant, so figures that agree at rest may differ by the calls in flight; but no counter ever goes back
//! between two snapshots, `resident`, `dirty` and `latched` stay within the frames, and at rest everything
//! agrees again.
//!
//! R34-O3 in RELIABILITY.md.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bufpool::policy::Admission;
use bufpool::{BufferPool, FileId, MemoryStorage, PageId, PolicyKind, Stats};

use crate::common;

/// xorshift64*: the workload's only source of randomness, seeded per policy.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

const FILES: [FileId; 2] = [FileId(1), FileId(2)];

/// Per-file figures of the files closed or dropped so far: (hits, misses, reads, writes).
#[derive(Default)]
struct Gone([u64; 4]);

/// The model: each file's allocated pages and their generations.
struct Model {
    pages: [BTreeMap<u32, u64>; 2],
    /// Requests made (pages asked for by the calls listed in the module docs) and pages prefetch loaded.
    requests: u64,
    prefetched_loads: u64,
    gone: Gone,
}

impl Model {
    fn pick(&self, rng: &mut Rng, f: usize) -> Option<u32> {
        let pages = &self.pages[f];
        (!pages.is_empty()).then(|| *pages.keys().nth(rng.below(pages.len() as u64) as usize).unwrap())
    }
}

fn check(pool: &BufferPool, model: &Model, what: &str) {
    let st: Stats = pool.stats();
    assert!(
        st.resident <= st.frames && st.dirty <= st.resident && st.latched == 0,
        "{what}: {st}"
    );
    let resident = pool.resident_pages();
    assert_eq!(resident.len(), st.resident, "{what}");
    for r in &resident {
        let f = FILES
            .iter()
            .position(|&f| f == r.page.file())
            .expect("a page of an open file");
        assert!(
            model.pages[f].contains_key(&r.page.page_no()),
            "{what}: {:?} resident, not allocated",
            r.page
        );
    }
    assert_eq!(st.reads, st.read_latency.count, "{what}: {st}");
    assert_eq!(st.syncs, st.sync_latency.count, "{what}: {st}");
    assert!(st.write_latency.count <= st.writes, "{what}: {st}");
    assert_eq!(
        st.writes,
        st.dirty_evictions + st.writer_writes + st.checkpoint_writes + st.flush_writes,
        "{what}: {st}"
    );
    assert_eq!(
        st.hits + st.misses + st.exhausted,
        model.requests + model.prefetched_loads,
        "{what}: {st}"
    );
    let mut sums = model.gone.0;
    for f in &st.files {
        let hits = f.hits.expect("ids differ in their low byte");
        for (sum, v) in sums.iter_mut().zip([hits, f.misses, f.reads, f.writes]) {
            *sum += v;
        }
    }
    assert_eq!(sums, [st.hits, st.misses, st.reads, st.writes], "{what}: {st}");
}

fn run(policy: bufpool::policy::PolicyConfig, seed: u64) {
    // In memory (a test of counts, not of a device; a real file's syncs made it 25 s), kept across reopens.
    let storages = FILES.map(|_| Arc::new(MemoryStorage::new()));
    let pool = BufferPool::builder().frames(6).policy(policy).build().unwrap();
    for (&id, storage) in FILES.iter().zip(&storages) {
        pool.open_storage_as(id, storage.clone()).unwrap();
    }
    let mut model = Model {
        pages: [BTreeMap::new(), BTreeMap::new()],
        requests: 0,
        prefetched_loads: 0,
        gone: Gone::default(),
    };
    let mut rng = Rng(seed | 1);
    for step in 0..3000 {
        let f = rng.below(2) as usize;
        let file = FILES[f];
        let op = rng.below(100);
        let what = format!("{} seed {seed} step {step} op {op}", pool.policy_name());
        match (op, model.pick(&mut rng, f)) {
            (0..=9, _) | (_, None) if model.pages[f].len() < 24 => {
                let mut g = pool.new_page(file).unwrap();
                let n = g.page_id().page_no();
                assert!(
                    model.pages[f].insert(n, 1).is_none(),
                    "{what}: new_page gave out {n} twice"
                );
                common::fill_page(&mut g, n, 1);
            }
            (_, None) => {}
            (10..=39, Some(n)) => {
                model.requests += 1;
                let g = pool.read(PageId::new(file, n)).unwrap();
                assert_eq!(common::check_page(&g, n), model.pages[f][&n], "{what}");
            }
            (40..=54, Some(n)) => {
                model.requests += 1;
                let mut g = pool.write(PageId::new(file, n)).unwrap();
                let gen = model.pages[f][&n] + 1;
                common::fill_page(&mut g, n, gen);
                model.pages[f].insert(n, gen);
            }
            (55..=64, Some(n)) => {
                model.requests += 1;
                let got = pool
                    .read_optimistic(PageId::new(file, n), |v| (v.read_u32(0), v.read_u64(4)))
                    .unwrap();
                assert_eq!(got, (n, model.pages[f][&n]), "{what}");
            }
            (65..=69, Some(n)) => {
                let m = model.pick(&mut rng, f).unwrap();
                let pages = [PageId::new(file, n), PageId::new(file, m)];
                model.requests += 2;
                pool.read_many(&pages, |i, r| {
                    let p = pages[i].page_no();
                    assert_eq!(common::check_page(&r.unwrap(), p), model.pages[f][&p], "{what}");
                });
            }
            (70..=73, Some(n)) => {
                model.requests += 1;
                let mut ring = pool.scan_ring(bufpool::SCAN_RING_MIN);
                assert_eq!(
                    common::check_page(&ring.read(PageId::new(file, n)).unwrap(), n),
                    model.pages[f][&n]
                );
            }
            (74..=77, Some(n)) => {
                let m = model.pick(&mut rng, f).unwrap();
                let loaded = pool.prefetch(&[PageId::new(file, n), PageId::new(file, m)]).unwrap();
                model.prefetched_loads += loaded as u64;
                // Its loads run on the pool's I/O thread: wait until they let go of their frames.
                let deadline = Instant::now() + Duration::from_secs(10);
                while pool.stats().latched > 0 {
                    assert!(
                        Instant::now() < deadline,
                        "{what}: prefetch's loads still latched after 10 s"
                    );
                    std::thread::yield_now();
                }
            }
            (78..=81, Some(n)) => {
                pool.free_page(PageId::new(file, n)).unwrap();
                model.pages[f].remove(&n);
            }
            (82..=85, Some(n)) => pool.flush(PageId::new(file, n)).unwrap(),
            (86..=88, _) => pool.flush_file(file).unwrap(),
            (89..=91, _) => {
                pool.checkpoint().unwrap();
                assert_eq!(pool.stats().dirty, 0, "{what}");
            }
            (_, _) => {
                // Close, or drop (so the model knows the bytes, after a flush, which a close makes itself), and
                // reopen under the same id. The file's last figures are read after its last write.
                pool.flush_file(file).unwrap();
                let fs = pool.file_stats(file).unwrap();
                let gone = [fs.hits.unwrap(), fs.misses, fs.reads, fs.writes];
                model.gone.0.iter_mut().zip(gone).for_each(|(g, v)| *g += v);
                if op.is_multiple_of(2) {
                    pool.close_file(file).unwrap();
                } else {
                    pool.drop_file(file).unwrap();
                }
                // Freed numbers are not remembered across a reopen; the model forgets them (never touched again).
                pool.open_storage_as(file, storages[f].clone()).unwrap();
                let fresh = pool.file_stats(file).unwrap();
                assert_eq!(
                    (fresh.hits, fresh.misses, fresh.reads, fresh.writes),
                    (Some(0), 0, 0, 0),
                    "{what}: a reopened file inherited figures: {fresh}"
                );
            }
        }
        check(&pool, &model, &what);
    }
    pool.close().unwrap();
}

#[test]
fn statistics_agree_and_pages_are_right_under_every_builtin_policy() {
    for (i, &kind) in PolicyKind::ALL.iter().enumerate() {
        for admission in [Admission::None, Admission::TinyLfu] {
            run(kind.with_admission(admission), 0x5eed + i as u64);
        }
    }
}

/// The counters a snapshot sums, in one array, to compare two snapshots.
fn counters(st: &Stats) -> [u64; 15] {
    [
        st.hits,
        st.misses,
        st.reads,
        st.writes,
        st.evictions,
        st.dirty_evictions,
        st.flush_writes,
        st.syncs,
        st.exhausted,
        st.latched_skips,
        st.single_flight_waits,
        st.optimistic_retries,
        st.read_latency.count,
        st.write_latency.count,
        st.sync_latency.count,
    ]
}

#[test]
fn snapshots_read_while_threads_count_never_go_back_and_agree_at_rest() {
    let pool = BufferPool::builder().frames(8).build().unwrap();
    let file = pool.open_storage_as(FileId(1), MemoryStorage::new()).unwrap();
    for n in 0..32 {
        common::fill_page(&mut pool.new_page(file).unwrap(), n, 1);
    }
    pool.checkpoint().unwrap();
    let stop = AtomicBool::new(false);
    let requests = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let (pool, stop, requests) = (&pool, &stop, &requests);
            s.spawn(move || {
                let mut rng = Rng(0x9e37_79b9 + t);
                let mut made = 0;
                while !stop.load(SeqCst) || made < 2000 {
                    let n = rng.below(32) as u32;
                    let page = PageId::new(file, n);
                    let op = rng.below(10);
                    match op {
                        0 => drop(pool.write(page).unwrap()),
                        1 => pool
                            .read_optimistic(page, |v| v.read_u32(0))
                            .map(|got| assert_eq!(got, n))
                            .unwrap(),
                        2 => pool.flush(page).unwrap(),
                        _ => assert_eq!(common::check_page(&pool.read(page).unwrap(), n), 1),
                    }
                    if op != 2 {
                        requests.fetch_add(1, SeqCst);
                    }
                    made += 1;
                }
            });
        }
        let mut last = pool.stats();
        for _ in 0..2000 {
            let st = pool.stats();
            assert!(
                st.resident <= st.frames && st.dirty <= st.resident && st.latched <= st.frames,
                "{st}"
            );
            for (i, (now, before)) in counters(&st).iter().zip(counters(&last)).enumerate() {
                assert!(
                    *now >= before,
                    "counter {i} went back from {before} to {now}:\n{last}\n{st}"
                );
            }
            last = st;
        }
        stop.store(true, SeqCst);
    });
    let st = pool.stats();
    assert_eq!(st.latched, 0, "{st}");
    assert_eq!(st.reads, st.read_latency.count, "{st}");
    assert_eq!(st.syncs, st.sync_latency.count, "{st}");
    assert_eq!(
        st.writes,
        st.dirty_evictions + st.writer_writes + st.checkpoint_writes + st.flush_writes,
        "{st}"
    );
    assert_eq!(st.hits + st.misses + st.exhausted, requests.load(SeqCst), "{st}");
    let f = pool.file_stats(file).unwrap();
    assert_eq!(
        [f.hits.unwrap(), f.misses, f.reads, f.writes],
        [st.hits, st.misses, st.reads, st.writes],
        "{st}"
    );
    pool.checkpoint().unwrap();
    assert_eq!(pool.stats().dirty, 0);
}
