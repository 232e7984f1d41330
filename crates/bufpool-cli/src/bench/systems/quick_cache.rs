//! `quick-cache`: the `quick_cache` crate's concurrent cache (`sync::Cache`, default options) holding immutable
//! page buffers (`Arc<AlignedBuf>`), capacity = the pool's frame count (in the hit workload, where every page must
//! stay resident, the page count plus [`HIT_SLACK_PERCENT`]: its shards fill unevenly and evict before the total
//! is reached, and a hit row with misses would measure something else; the bench fails a hit row with a miss).
//! A hit clones the `Arc` out of the cache; a
//! miss reads the page from the raw file (single flight through `get_or_insert_with`). Read-only: it has no
//! write-back, so it is listed for shared reads (hit, miss) and the scan workload only.

use std::sync::Arc;

use anyhow::Result;
use bufpool::storage::AlignedBuf;
use quick_cache::sync::Cache;

use super::raw_file::{RawFile, RAW_PAGE};
use crate::bench::driver::{IoCounters, OpKind, System, Worker};
use crate::bench::selfcheck;

/// Extra capacity over the page count in the hit workload, in percent.
pub const HIT_SLACK_PERCENT: usize = 50;

/// Page buffers in a `quick_cache`.
pub struct QuickCache {
    file: RawFile,
    seed: u64,
    cache: Cache<u32, Arc<AlignedBuf>>,
}

impl QuickCache {
    /// A cache of `frames` pages over the raw file.
    pub fn new(file: RawFile, frames: usize, seed: u64) -> QuickCache {
        QuickCache {
            file,
            seed,
            cache: Cache::new(frames),
        }
    }
}

impl QuickCache {
    /// Inserts pages `0..pages` with their self-check, as a miss would but without reading: the `hit` workload's
    /// resident pages.
    pub fn populate(&self, pages: u32) {
        for p in 0..pages {
            let mut buf = AlignedBuf::zeroed(RAW_PAGE);
            selfcheck::init(&mut buf, self.seed, p);
            self.cache.insert(p, Arc::new(buf));
        }
    }
}

/// A thread's handle on [`QuickCache`].
pub struct QuickCacheWorker<'a>(&'a QuickCache);

impl System for QuickCache {
    type Worker<'a> = QuickCacheWorker<'a>;

    fn worker(&self) -> Result<QuickCacheWorker<'_>> {
        Ok(QuickCacheWorker(self))
    }

    fn counters(&self) -> &IoCounters {
        &self.file.counters
    }
}

impl Worker for QuickCacheWorker<'_> {
    fn op(&mut self, page: u32, _kind: OpKind) -> Result<()> {
        let sys = self.0;
        let buf = sys.cache.get_or_insert_with(&page, || -> Result<_> {
            let mut buf = AlignedBuf::zeroed(RAW_PAGE);
            sys.file.read_page(page, &mut buf)?;
            Ok(Arc::new(buf))
        })?;
        selfcheck::verify(&buf, sys.seed, page)
    }
}
