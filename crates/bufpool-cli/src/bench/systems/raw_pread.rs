//! `raw-pread`, the floor for misses: one `pread` of the page straight from the raw file per access (O_DIRECT,
//! or buffered where the filesystem refuses it, which the output says), into a per-thread aligned buffer.

use anyhow::Result;
use bufpool::storage::AlignedBuf;

use super::raw_file::{RawFile, RAW_PAGE};
use crate::bench::driver::{IoCounters, OpKind, System, Worker};
use crate::bench::selfcheck;

/// Reads pages from the raw file, no cache.
pub struct RawPread {
    file: RawFile,
    seed: u64,
}

impl RawPread {
    /// Over an opened raw file.
    pub fn new(file: RawFile, seed: u64) -> RawPread {
        RawPread { file, seed }
    }

    /// Whether reads bypass the page cache.
    pub fn direct(&self) -> bool {
        self.file.direct
    }
}

/// A thread's handle: its own aligned buffer.
pub struct RawPreadWorker<'a> {
    sys: &'a RawPread,
    buf: AlignedBuf,
}

impl System for RawPread {
    type Worker<'a> = RawPreadWorker<'a>;

    fn worker(&self) -> Result<RawPreadWorker<'_>> {
        Ok(RawPreadWorker {
            sys: self,
            buf: AlignedBuf::zeroed(RAW_PAGE),
        })
    }

    fn counters(&self) -> &IoCounters {
        &self.file.counters
    }
}

impl Worker for RawPreadWorker<'_> {
    fn op(&mut self, page: u32, _kind: OpKind) -> Result<()> {
        self.sys.file.read_page(page, &mut self.buf)?;
        selfcheck::verify(&self.buf, self.sys.seed, page)
    }
}
