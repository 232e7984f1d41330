//! Feature `metrics`: `publish_metrics` hands the pool's statistics to whatever recorder is installed, counters
//! as the pool's totals and gauges as its state, with the names the `publish` module lists. A recording recorder
//! stands in for a Prometheus exporter.
#![cfg(feature = "metrics")]

mod common;

use std::collections::HashMap;

use bufpool::{BufferPool, MemoryStorage, Stats};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

/// Publishes `publish` under a fresh recorder and returns what it recorded, keyed by name and `file` label.
fn record(publish: impl FnOnce()) -> HashMap<(String, Option<String>), DebugValue> {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, publish);
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let file = key.labels().find(|l| l.key() == "file").map(|l| l.value().to_string());
            ((key.name().to_string(), file), value)
        })
        .collect()
}

fn counter(m: &HashMap<(String, Option<String>), DebugValue>, name: &str) -> u64 {
    file_counter(m, name, None)
}

fn file_counter(m: &HashMap<(String, Option<String>), DebugValue>, name: &str, file: Option<&str>) -> u64 {
    match m.get(&(name.to_string(), file.map(str::to_string))) {
        Some(DebugValue::Counter(v)) => *v,
        other => panic!("{name} {file:?}: {other:?}"),
    }
}

fn gauge(m: &HashMap<(String, Option<String>), DebugValue>, name: &str, file: Option<&str>) -> f64 {
    match m.get(&(name.to_string(), file.map(str::to_string))) {
        Some(DebugValue::Gauge(v)) => v.into_inner(),
        other => panic!("{name} {file:?}: {other:?}"),
    }
}

#[test]
fn published_figures_equal_the_stats_snapshot() {
    let pool = BufferPool::builder().frames(16).build().unwrap();
    let f = pool.open_storage(MemoryStorage::new()).unwrap();
    // 24 pages through 16 frames: evictions (dirty ones), then re-reads of evicted pages (misses, reads) and of
    // resident ones (hits), a checkpoint (writes, syncs), and a few dirty pages left at the end.
    let mut pages = Vec::new();
    for n in 0..24u32 {
        let mut w = pool.new_page(f).unwrap();
        common::fill_page(&mut w, n, 1);
        pages.push(w.page_id());
    }
    for &p in &pages {
        drop(pool.read(p).unwrap());
    }
    for &p in &pages[20..] {
        drop(pool.read(p).unwrap());
    }
    pool.checkpoint().unwrap();
    for &p in &pages[20..23] {
        let mut w = pool.write(p).unwrap();
        common::fill_page(&mut w, p.page_no(), 2);
    }

    let stats: Stats = pool.stats();
    assert!(
        stats.hits > 0 && stats.misses > 0 && stats.writes > 0 && stats.dirty == 3,
        "{stats:?}"
    );
    let m = record(|| stats.publish());
    for (name, value) in [
        ("bufpool_hits", stats.hits),
        ("bufpool_misses", stats.misses),
        ("bufpool_reads", stats.reads),
        ("bufpool_writes", stats.writes),
        ("bufpool_evictions", stats.evictions),
        ("bufpool_dirty_evictions", stats.dirty_evictions),
        ("bufpool_syncs", stats.syncs),
        ("bufpool_write_errors", stats.write_errors),
        ("bufpool_exhausted", stats.exhausted),
        ("bufpool_checkpoint_writes", stats.checkpoint_writes),
        ("bufpool_flush_writes", stats.flush_writes),
        ("bufpool_writer_writes", stats.writer_writes),
        ("bufpool_written_lsns_dropped", stats.written_lsns_dropped),
        ("bufpool_files_released_late", stats.files_released_late),
        ("bufpool_doublewrite_batches", stats.doublewrite_batches),
        ("bufpool_doublewrite_restored", stats.doublewrite_restored),
    ] {
        assert_eq!(counter(&m, name), value, "{name}");
    }
    assert_eq!(gauge(&m, "bufpool_frames", None), 16.0);
    assert_eq!(gauge(&m, "bufpool_resident", None), stats.resident as f64);
    assert_eq!(gauge(&m, "bufpool_dirty", None), 3.0);
    assert_eq!(gauge(&m, "bufpool_latched", None), 0.0);
    assert_eq!(
        gauge(&m, "bufpool_written_lsn_bytes", None),
        stats.written_lsn_bytes as f64
    );
    let file = f.0.to_string();
    assert_eq!(gauge(&m, "bufpool_file_pages", Some(&file)), 24.0);
    assert_eq!(gauge(&m, "bufpool_file_failed", Some(&file)), 0.0);
    // Latencies: a count and four gauges for each of read, write and sync.
    for (op, l) in [
        ("read", &stats.read_latency),
        ("write", &stats.write_latency),
        ("sync", &stats.sync_latency),
    ] {
        assert!(l.count > 0, "{op}");
        assert_eq!(counter(&m, &format!("bufpool_{op}_latency_count")), l.count, "{op}");
        let g = |stat: &str| gauge(&m, &format!("bufpool_{op}_latency_{stat}_seconds"), None);
        assert_eq!(g("p50"), l.p50().as_secs_f64(), "{op}");
        assert_eq!(g("p99"), l.p99().as_secs_f64(), "{op}");
        assert_eq!(g("max"), l.max.as_secs_f64(), "{op}");
        assert_eq!(g("sum"), l.sum.as_secs_f64(), "{op}");
        assert!(g("p50") <= g("p99") && g("p99") <= g("max"), "{op}");
    }
    assert_eq!(stats.read_latency.count, stats.reads);
    assert_eq!(stats.sync_latency.count, stats.syncs);
    // The one file's counts are the pool's.
    let fs = &stats.files[0];
    assert_eq!(fs.hits, Some(stats.hits));
    for (name, value) in [
        ("bufpool_file_hits", stats.hits),
        ("bufpool_file_misses", stats.misses),
        ("bufpool_file_reads", stats.reads),
        ("bufpool_file_writes", stats.writes),
    ] {
        assert_eq!(file_counter(&m, name, Some(&file)), value, "{name}");
    }
    // 30 counters, 5 pool gauges, 2 gauges and 4 counters for the one file, 3 latency counters and 12 latency
    // gauges.
    assert_eq!(m.len(), 30 + 5 + 2 + 4 + 3 + 12, "{:?}", m.keys());

    // The pool's own entry point publishes the same figures (only this thread makes requests).
    let m = record(|| pool.publish_metrics());
    assert_eq!(counter(&m, "bufpool_hits"), stats.hits);
    assert_eq!(counter(&m, "bufpool_misses"), stats.misses);
    assert_eq!(gauge(&m, "bufpool_dirty", None), 3.0);
}
