//! Operator statistics (issue 12): read, write and sync latency histograms. Every storage call of a real file is
//! recorded once, so after a known number of page reads, single-page flushes and syncs the histograms' counts are
//! exactly those numbers, and their quantiles are ordered (p50 <= p99 <= max). No timing is asserted.

use crate::common;

use bufpool::{BufferPool, PageId};

const PAGES: u32 = 40;
const FLUSHES: u32 = 7;

#[test]
fn reads_writes_and_syncs_of_a_real_file_are_each_recorded_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    {
        let pool = BufferPool::builder().frames(64).build().unwrap();
        let f = pool.open_file(&path).unwrap();
        for n in 0..PAGES {
            common::fill_page(&mut pool.new_page(f).unwrap(), n, 1);
        }
        pool.close().unwrap();
    }

    let pool = BufferPool::builder().frames(64).build().unwrap();
    let f = pool.open_file(&path).unwrap();
    let st = pool.stats();
    assert_eq!(
        (st.read_latency.count, st.write_latency.count, st.sync_latency.count),
        (0, 0, 0)
    );
    assert_eq!(st.read_latency.p99(), std::time::Duration::ZERO);

    // One read per page: single loads (`read`) and a batch (`read_many`, through `Storage::submit`).
    for n in 0..PAGES / 2 {
        assert_eq!(common::check_page(&pool.read(PageId::new(f, n)).unwrap(), n), 1);
    }
    let batch: Vec<PageId> = (PAGES / 2..PAGES).map(|n| PageId::new(f, n)).collect();
    pool.read_many(&batch, |_, guard| {
        guard.unwrap();
    });
    // Then FLUSHES single-page flushes: one write call and one sync each.
    for n in 0..FLUSHES {
        common::fill_page(&mut pool.write(PageId::new(f, n)).unwrap(), n, 2);
        pool.flush(PageId::new(f, n)).unwrap();
    }

    let st = pool.stats();
    assert_eq!(st.reads, u64::from(PAGES), "{st}");
    assert_eq!(st.read_latency.count, st.reads, "{st}");
    assert_eq!(st.writes, u64::from(FLUSHES), "{st}");
    assert_eq!(st.write_latency.count, u64::from(FLUSHES), "{st}");
    assert_eq!(st.syncs, u64::from(FLUSHES), "{st}");
    assert_eq!(st.sync_latency.count, st.syncs, "{st}");
    for (name, l) in [
        ("read", &st.read_latency),
        ("write", &st.write_latency),
        ("sync", &st.sync_latency),
    ] {
        assert!(l.max > std::time::Duration::ZERO, "{name}: {l:?}");
        assert!(l.p50() <= l.p99() && l.p99() <= l.max, "{name}: {l}");
        assert!(l.quantile(0.0) <= l.p50(), "{name}: {l}");
        assert_eq!(l.quantile(1.0), l.max, "{name}: {l}");
        assert!(l.mean() <= l.max && l.sum >= l.max, "{name}: {l:?}");
    }
    assert!(st.to_string().contains("sync latency: p50"), "{st}");
}
