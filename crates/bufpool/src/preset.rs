//! Presets: a pool's settings for a kind of workload, chosen from measured figures where there are some.
//!
//! Owns [`Preset`], what [`crate::Builder::preset`] applies. A preset is a starting point: it calls the same
//! builder methods a caller would (`policy`, `background_writer`, `io_backend`, `io_threads`), and any of them
//! called after it overrides its choice. What a preset cannot set on the builder, because it belongs to each
//! scan, it recommends: [`Preset::scan_ring_frames`] for [`crate::BufferPool::scan_ring`].
//!
//! The table of settings and the figures behind them is on [`Preset`].

use crate::policy::{PolicyConfig, PolicyKind};
use crate::pool::{Builder, IoBackend};
use crate::writer::WriterConfig;

/// A pool's settings for a kind of workload, applied by [`crate::Builder::preset`]: a starting point, which any
/// builder setting made after it overrides.
///
/// # The settings and the figures behind them
/// Figures are from this repository's measurements (POLICIES.md: replacement policies on 14 real traces and
/// callgrind instruction counts of the hit path; BENCHMARKS.md: `bufpool bench` on a shared 2-vCPU VM with a virtio
/// disk). Where no figure decides a setting, the table says it is a judgement.
///
/// | setting | `Oltp` | `Analytics` | why |
/// |---|---|---|---|
/// | policy | S3-FIFO | W-TinyLFU | OLTP trace, miss ratio at 10% of distinct pages: S3-FIFO 32.22%, W-TinyLFU 35.65% (at 1%: 53.54%, 55.41%); a hit costs 172 instructions with S3-FIFO and 475 with W-TinyLFU. Looping and frequency-skewed traces: W-TinyLFU 92.78% on `loop` where S3-FIFO and every other policy miss 100%, 83.94% on `gli` against 98.79%, 96.46% on `cs` against 98.17%. An analytics engine is dominated by misses, so the dearer hit matters less there. |
/// | background writer | on, [`WriterConfig::for_frames`] | off | `mixed` workload, writer off/on: foreground dirty evictions go from about a quarter of evictions to none at one thread, p99.9 drops 2.3x to 5.6x at two threads, p99 1.46x to 1.79x better at one thread. Analytics: judgement (read-mostly; a writer waking every 2 ms would find nothing to write, and bulk loads end with a checkpoint). |
/// | I/O backend | `Auto` (io_uring where available) | `Auto` | a batch of 32 misses per `read_many`, two threads: 1.04x raw io_uring's rate with io_uring, 0.37x with `pread`. |
/// | I/O threads (prefetch) | 1 | 4 | with io_uring one thread keeps a whole prefetch batch in flight (the 1.04x above). Where io_uring is unavailable each thread keeps one `pread` in flight: raw `pread` gave 12.6k reads/s from 1 thread, 18.7k from 2, 27.8k from 8. Analytics prefetches whole ranges, so it gets 4 threads; OLTP prefetches little (judgement, from those figures). |
/// | scan ring | 64 frames | 128 frames | `scan` workload with a hot set leaving the scan 128 frames: hot-set hit ratio 1.0000 with a 64-frame ring, 0.93 to 0.97 without, hot reader 15x to 120x faster (measured with CLOCK, the default then). 128 for analytics is a judgement: a ring must hold a whole prefetch batch (`BATCH_PAGES_MAX`, 64 pages) ahead of the page being read, or prefetched pages are recycled before they are used. |
///
/// What the presets leave at the defaults, and why: the page size (a property of the engine's files), the frame
/// count (the machine's memory), `frame_wait` (whether a miss may wait for other threads' guards is the engine's
/// concurrency decision), strict mode (on).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
#[non_exhaustive]
pub enum Preset {
    /// Many short transactions: point reads and writes on a hot working set, dirty pages all the time. S3-FIFO,
    /// a background writer, io_uring, one prefetch thread, 64-frame scan rings.
    Oltp,
    /// Large scans and aggregations: read-mostly, frequency-skewed and looping access. W-TinyLFU, no background
    /// writer, io_uring, four prefetch threads, 128-frame scan rings.
    Analytics,
}

impl Preset {
    /// Every preset.
    pub const ALL: &'static [Preset] = &[Preset::Oltp, Preset::Analytics];

    /// The replacement policy.
    pub fn policy(self) -> PolicyConfig {
        match self {
            Preset::Oltp => PolicyKind::S3Fifo.into(),
            Preset::Analytics => PolicyKind::WTinyLfu.into(),
        }
    }

    /// The background writer for a pool of `frames` frames, if any.
    pub fn background_writer(self, frames: usize) -> Option<WriterConfig> {
        match self {
            Preset::Oltp => Some(WriterConfig::for_frames(frames)),
            Preset::Analytics => None,
        }
    }

    /// The storage backend for files opened by path.
    pub fn io_backend(self) -> IoBackend {
        IoBackend::Auto
    }

    /// Threads completing prefetches ([`crate::Builder::io_threads`]).
    pub fn io_threads(self) -> usize {
        match self {
            Preset::Oltp => 1,
            Preset::Analytics => 4,
        }
    }

    /// Frames to give each bulk scan's ring ([`crate::BufferPool::scan_ring`]); a per-scan choice, so it is
    /// recommended here rather than set on the builder.
    pub fn scan_ring_frames(self) -> usize {
        match self {
            Preset::Oltp => 64,
            Preset::Analytics => 2 * crate::BATCH_PAGES_MAX,
        }
    }

    /// Applies the preset's policy and I/O settings to `b` (the builder sets the writer, which depends on its
    /// frame count).
    pub(crate) fn apply(self, b: Builder) -> Builder {
        b.policy(self.policy())
            .io_backend(self.io_backend())
            .io_threads(self.io_threads())
    }
}
