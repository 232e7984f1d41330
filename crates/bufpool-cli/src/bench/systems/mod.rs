//! The benchmarked systems: bufpool, its peers, and the hardware limits, each behind [`super::driver::System`].
//!
//! Owns: the list of systems ([`SystemKind`]), which workload shapes each can do ([`SystemKind::supports`]), and
//! the raw page file ([`raw_file`]) that the limits and the simple peers read. Each system lives in its own file.

use std::fmt;
use std::str::FromStr;

use super::workload::{Access, CaseSpec, Workload};

pub mod bufpool_sys;
pub mod naive_lru;
pub mod page_db;
pub mod quick_cache;
pub mod raw_file;
pub mod raw_memory;
pub mod raw_pread;
pub mod raw_uring;

/// A system the benchmark can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SystemKind {
    /// The pool under test.
    Bufpool,
    /// Limit: the pages in a plain in-memory array, no pool (the floor for hits).
    RawMemory,
    /// Limit: O_DIRECT `pread` of the pages (the floor for misses at the same concurrency).
    RawPread,
    /// Limit: io_uring reads at queue depth 32, no pool.
    RawUring,
    /// Peer: crates.io `page-db` 1.0's `BufferPool`.
    PageDb,
    /// Peer: a `Mutex<HashMap + LRU list>` pool, the kind most projects write first.
    NaiveLru,
    /// Peer: the `quick_cache` crate holding page buffers.
    QuickCache,
}

impl SystemKind {
    /// Every system, in display order.
    pub const ALL: [SystemKind; 7] = [
        SystemKind::Bufpool,
        SystemKind::RawMemory,
        SystemKind::RawPread,
        SystemKind::RawUring,
        SystemKind::PageDb,
        SystemKind::NaiveLru,
        SystemKind::QuickCache,
    ];

    /// The name used in arguments, output and JSON.
    pub fn name(self) -> &'static str {
        match self {
            SystemKind::Bufpool => "bufpool",
            SystemKind::RawMemory => "raw-memory",
            SystemKind::RawPread => "raw-pread",
            SystemKind::RawUring => "raw-uring",
            SystemKind::PageDb => "page-db",
            SystemKind::NaiveLru => "naive-lru",
            SystemKind::QuickCache => "quick-cache",
        }
    }

    /// Whether the system can run this workload shape with this access. Systems that cannot are not listed.
    /// Batched reads and checkpoints are bufpool's (the raw limits run every miss case, whatever the access).
    pub fn supports(self, workload: Workload, access: Access) -> bool {
        if workload == Workload::Checkpoint {
            return self == SystemKind::Bufpool;
        }
        match self {
            SystemKind::Bufpool => true,
            SystemKind::RawMemory => workload == Workload::Hit,
            SystemKind::RawPread | SystemKind::RawUring => workload == Workload::Miss,
            SystemKind::PageDb | SystemKind::NaiveLru => !matches!(access, Access::Optimistic | Access::Batch),
            // A cache of immutable page buffers: reads only, no write-back.
            SystemKind::QuickCache => matches!(access, Access::Shared | Access::Scan),
        }
    }

    /// Whether the system runs `case`: it supports the shape and, unless it is bufpool, the case is the plain
    /// variant (peers have no scan ring, background writer or checkpoints).
    pub fn runs(self, case: &CaseSpec) -> bool {
        self.supports(case.workload, case.access) && (self == SystemKind::Bufpool || case.variant.is_plain())
    }
}

impl fmt::Display for SystemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SystemKind {
    type Err = String;
    fn from_str(s: &str) -> Result<SystemKind, String> {
        SystemKind::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            let names: Vec<_> = SystemKind::ALL.iter().map(|k| k.name()).collect();
            format!("unknown system `{s}`: expected some of {}", names.join(","))
        })
    }
}

/// Parses `bufpool,raw-memory` into systems.
pub fn parse_systems(s: &str) -> Result<Vec<SystemKind>, String> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let k: SystemKind = part.trim().parse()?;
        if !out.contains(&k) {
            out.push(k);
        }
    }
    Ok(out)
}
