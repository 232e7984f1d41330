//! The pool's statistics through the [`metrics`] facade (feature `metrics`).
//!
//! Owns [`Stats::publish`] and [`BufferPool::publish_metrics`]. Nothing here runs by itself: the engine calls
//! `publish_metrics` when it wants fresh figures (from its exporter's scrape hook, or a timer), and the pool's hot
//! paths are unchanged, since the figures come from [`BufferPool::stats`]. Whatever recorder the process has
//! installed (a Prometheus or StatsD exporter, or none: then publishing does nothing) receives them.
//!
//! Counters are monotonic totals since the pool was built, recorded with `absolute` (the pool's own count, not an
//! increment): `bufpool_hits`, `bufpool_misses`, `bufpool_reads`, `bufpool_writes`, `bufpool_evictions`,
//! `bufpool_dirty_evictions`, `bufpool_corrupt_pages`, `bufpool_optimistic_retries`,
//! `bufpool_optimistic_fallbacks`, `bufpool_syncs`, `bufpool_wal_flushes`, `bufpool_read_errors`,
//! `bufpool_write_errors`, `bufpool_exhausted`, `bufpool_veto_skips`, `bufpool_latched_skips`,
//! `bufpool_single_flight_waits`, `bufpool_write_waits`, `bufpool_prefetched`, `bufpool_fresh_reads`, `bufpool_lost_writes`,
//! `bufpool_failed_pages_dropped`, `bufpool_snapshot_skips`, `bufpool_writer_writes`, `bufpool_checkpoint_writes`,
//! `bufpool_flush_writes`, `bufpool_written_lsns_dropped`, `bufpool_files_released_late`,
//! `bufpool_doublewrite_batches`, `bufpool_doublewrite_restored`. Each means what the
//! [`Stats`] field of the same name (without the prefix) means.
//!
//! Storage-call latencies ([`Stats::read_latency`], `write_latency`, `sync_latency`), for each `op` of `read`,
//! `write` and `sync`: the counter `bufpool_{op}_latency_count` (calls recorded) and the gauges
//! `bufpool_{op}_latency_p50_seconds`, `bufpool_{op}_latency_p99_seconds`, `bufpool_{op}_latency_max_seconds`
//! and `bufpool_{op}_latency_sum_seconds` (the histogram's quantiles since the pool was built, as a Prometheus
//! summary gives them; rate the sum and count for a mean over an interval).
//!
//! Gauges are the state at the time of the snapshot: `bufpool_frames`, `bufpool_resident`, `bufpool_dirty`,
//! `bufpool_latched`, `bufpool_written_lsn_bytes` (the stale-write check's tables), and
//! per open file, labelled `file` with the file's number: `bufpool_file_pages` (pages allocated) and
//! `bufpool_file_failed` (1 once a write or sync failed, else 0); and per open file, labelled the same, the
//! counters `bufpool_file_hits` (left out while the file's hits are unknown: [`crate::FileStats::hits`]),
//! `bufpool_file_misses`, `bufpool_file_reads` and `bufpool_file_writes`, totals since the file was opened. A
//! file closed since the last publication keeps
//! its last values in the recorder until the exporter expires them.

use crate::pool::BufferPool;
use crate::stats::Stats;

impl Stats {
    /// Records this snapshot through the `metrics` facade: counters for the totals, gauges for the state, named
    /// and labelled as the module docs list them.
    pub fn publish(&self) {
        let counters: [(&'static str, u64); 30] = [
            ("bufpool_hits", self.hits),
            ("bufpool_misses", self.misses),
            ("bufpool_reads", self.reads),
            ("bufpool_writes", self.writes),
            ("bufpool_evictions", self.evictions),
            ("bufpool_dirty_evictions", self.dirty_evictions),
            ("bufpool_corrupt_pages", self.corrupt_pages),
            ("bufpool_optimistic_retries", self.optimistic_retries),
            ("bufpool_optimistic_fallbacks", self.optimistic_fallbacks),
            ("bufpool_syncs", self.syncs),
            ("bufpool_wal_flushes", self.wal_flushes),
            ("bufpool_read_errors", self.read_errors),
            ("bufpool_write_errors", self.write_errors),
            ("bufpool_exhausted", self.exhausted),
            ("bufpool_veto_skips", self.veto_skips),
            ("bufpool_latched_skips", self.latched_skips),
            ("bufpool_single_flight_waits", self.single_flight_waits),
            ("bufpool_write_waits", self.write_waits),
            ("bufpool_prefetched", self.prefetched),
            ("bufpool_fresh_reads", self.fresh_reads),
            ("bufpool_lost_writes", self.lost_writes),
            ("bufpool_failed_pages_dropped", self.failed_pages_dropped),
            ("bufpool_snapshot_skips", self.snapshot_skips),
            ("bufpool_writer_writes", self.writer_writes),
            ("bufpool_checkpoint_writes", self.checkpoint_writes),
            ("bufpool_flush_writes", self.flush_writes),
            ("bufpool_written_lsns_dropped", self.written_lsns_dropped),
            ("bufpool_files_released_late", self.files_released_late),
            ("bufpool_doublewrite_batches", self.doublewrite_batches),
            ("bufpool_doublewrite_restored", self.doublewrite_restored),
        ];
        for (name, value) in counters {
            ::metrics::counter!(name).absolute(value);
        }
        let latencies = [
            ("read", &self.read_latency),
            ("write", &self.write_latency),
            ("sync", &self.sync_latency),
        ];
        for (op, l) in latencies {
            ::metrics::counter!(format!("bufpool_{op}_latency_count")).absolute(l.count);
            for (stat, d) in [("p50", l.p50()), ("p99", l.p99()), ("max", l.max), ("sum", l.sum)] {
                ::metrics::gauge!(format!("bufpool_{op}_latency_{stat}_seconds")).set(d.as_secs_f64());
            }
        }
        ::metrics::gauge!("bufpool_frames").set(self.frames as f64);
        ::metrics::gauge!("bufpool_resident").set(self.resident as f64);
        ::metrics::gauge!("bufpool_dirty").set(self.dirty as f64);
        ::metrics::gauge!("bufpool_latched").set(self.latched as f64);
        ::metrics::gauge!("bufpool_written_lsn_bytes").set(self.written_lsn_bytes as f64);
        for f in &self.files {
            let file = f.file.0.to_string();
            ::metrics::gauge!("bufpool_file_pages", "file" => file.clone()).set(f64::from(f.pages));
            ::metrics::gauge!("bufpool_file_failed", "file" => file.clone()).set(if f.failed { 1.0 } else { 0.0 });
            if let Some(hits) = f.hits {
                ::metrics::counter!("bufpool_file_hits", "file" => file.clone()).absolute(hits);
            }
            ::metrics::counter!("bufpool_file_misses", "file" => file.clone()).absolute(f.misses);
            ::metrics::counter!("bufpool_file_reads", "file" => file.clone()).absolute(f.reads);
            ::metrics::counter!("bufpool_file_writes", "file" => file).absolute(f.writes);
        }
    }
}

impl BufferPool {
    /// Records the pool's current statistics ([`BufferPool::stats`]) through the `metrics` facade, for whatever
    /// exporter the process installed: see [`Stats::publish`] for the names. Call it when the exporter wants
    /// fresh figures; it scans the frames as `stats` does.
    pub fn publish_metrics(&self) {
        self.stats().publish();
    }
}
