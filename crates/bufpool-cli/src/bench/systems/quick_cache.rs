//! `quick-cache`: the `quick_cache` crate's concurrent cache (`sync::Cache`, default options) holding immutable
//! page buffers (`Arc<AlignedBuf>`), capacity = the pool's frame count. In the hit workload, where every page must
//! stay resident, [`QuickCache::resident`] sizes it to hold every page: its shards are sized equally and each
//! evicts on its own once full, while the default hasher's seed is random per cache, so with a fixed slack over
//! the page count the fullest shard still overflowed now and then (with 50%: 1 cache in 80 at 256 pages lost a
//! page, and the hit case then failed on a read); the bench fails a hit row with a miss.
//! A hit clones the `Arc` out of the cache; a
//! miss reads the page from the raw file (single flight through `get_or_insert_with`). Read-only: it has no
//! write-back, so it is listed for shared reads (hit, miss) and the scan workload only.

use std::sync::Arc;

use anyhow::{bail, Result};
use bufpool::storage::AlignedBuf;
use quick_cache::sync::Cache;

use super::raw_file::{RawFile, RAW_PAGE};
use crate::bench::driver::{IoCounters, OpKind, System, Worker};
use crate::bench::selfcheck;

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
    /// A cache holding pages `0..pages` with their self-check, inserted as a miss would but without reading: the
    /// `hit` workload's resident pages. Every shard gets room for as many of them as the fullest one takes, so
    /// none is evicted; fails if one was anyway.
    pub fn resident(file: RawFile, pages: u32, seed: u64) -> Result<QuickCache> {
        let cache = Cache::new(pages as usize);
        let mut per_shard = vec![0u64; cache.num_shards()];
        for p in 0..pages {
            per_shard[cache.shard_index(&p)] += 1;
        }
        let fullest = per_shard.iter().copied().max().unwrap_or(0);
        cache.set_capacity(fullest * per_shard.len() as u64);
        for p in 0..pages {
            let mut buf = AlignedBuf::zeroed(RAW_PAGE);
            selfcheck::init(&mut buf, seed, p);
            cache.insert(p, Arc::new(buf));
        }
        if cache.len() != pages as usize {
            bail!(
                "quick-cache kept {} of the {pages} pages inserted for the hit workload (capacity {})",
                cache.len(),
                cache.capacity()
            );
        }
        Ok(QuickCache { file, seed, cache })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every page of a hit-workload cache is resident: an op on each reads nothing (its file is empty, so a read
    /// would fail with a short read). Each cache hashes with a fresh random seed; with the old fixed 50% slack,
    /// 249 of 20,000 caches of 256 pages lost a page, so 1000 of them miss it with probability about 4e-6.
    #[test]
    fn hit_cache_keeps_every_page_whatever_the_hash_seed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.pages");
        std::fs::File::create(&path).unwrap();
        let pages = 256;
        for i in 0..1000 {
            let sys = QuickCache::resident(RawFile::open(&path).unwrap(), pages, 7).unwrap();
            let mut w = sys.worker().unwrap();
            for p in 0..pages {
                w.op(p, OpKind::Shared)
                    .unwrap_or_else(|e| panic!("cache {i} ({pages} pages) missed page {p}: {e:#}"));
            }
            assert_eq!(
                sys.file.counters.reads.load(std::sync::atomic::Ordering::Relaxed),
                0,
                "cache {i} read from its file"
            );
        }
    }
}
