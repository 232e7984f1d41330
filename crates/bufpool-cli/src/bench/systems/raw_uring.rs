//! `raw-uring`, the floor for misses with many reads in flight: each thread keeps [`QUEUE_DEPTH`] random 4 KiB
//! reads of the raw file in flight through its own io_uring (O_DIRECT, or buffered where refused), no pool.
//!
//! Latency of an op is submission to completion, so it includes the time queued behind the other reads in
//! flight. If io_uring cannot be set up (old kernel, seccomp, container policy), [`RawUring::new`] says why and
//! the benchmark lists the system as unavailable.

use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use bufpool::storage::AlignedBuf;
use io_uring::{opcode, types, IoUring};

use super::raw_file::{RawFile, RAW_PAGE};
use crate::bench::driver::{IoCounters, OpKind, System, ThreadCtx, Worker};
use crate::bench::selfcheck;
use crate::bench::workload::OP_WRITE;

/// Reads each thread keeps in flight.
pub const QUEUE_DEPTH: usize = 32;

/// Reads pages from the raw file through io_uring.
pub struct RawUring {
    file: RawFile,
    seed: u64,
}

impl RawUring {
    /// Over an opened raw file; fails (with the reason) if io_uring cannot read page 0 of it.
    pub fn new(file: RawFile, seed: u64) -> Result<RawUring> {
        let sys = RawUring { file, seed };
        let mut w = sys.worker().context("io_uring setup")?;
        w.op(0, OpKind::Shared).context("io_uring probe read")?;
        Ok(sys)
    }

    /// Whether reads bypass the page cache.
    pub fn direct(&self) -> bool {
        self.file.direct
    }
}

/// A thread's ring and its buffers, one per slot.
pub struct RawUringWorker<'a> {
    sys: &'a RawUring,
    ring: IoUring,
    bufs: Vec<AlignedBuf>,
    slot_page: Vec<u32>,
    slot_t0: Vec<Option<Instant>>,
}

impl System for RawUring {
    type Worker<'a> = RawUringWorker<'a>;

    fn worker(&self) -> Result<RawUringWorker<'_>> {
        let ring = IoUring::new(QUEUE_DEPTH as u32 * 2)?;
        Ok(RawUringWorker {
            sys: self,
            ring,
            bufs: (0..QUEUE_DEPTH).map(|_| AlignedBuf::zeroed(RAW_PAGE)).collect(),
            slot_page: vec![0; QUEUE_DEPTH],
            slot_t0: vec![None; QUEUE_DEPTH],
        })
    }

    fn counters(&self) -> &IoCounters {
        &self.file.counters
    }
}

impl RawUringWorker<'_> {
    fn push(&mut self, slot: usize, page: u32) -> Result<()> {
        self.slot_page[slot] = page;
        let buf = &mut self.bufs[slot];
        let e = opcode::Read::new(types::Fd(self.sys.file.fd()), buf.as_ptr(), RAW_PAGE as u32)
            .offset(u64::from(page) * RAW_PAGE as u64)
            .build()
            .user_data(slot as u64);
        self.sys.file.counters.read(u64::from(page));
        // SAFETY: the buffer of `slot` stays alive and untouched until this slot's completion is reaped (slots are
        // reused only after their completion, and `drain` reaps every one before the worker can be dropped).
        unsafe { self.ring.submission().push(&e) }.map_err(|_| anyhow!("io_uring submission queue full"))?;
        Ok(())
    }

    /// Waits for at least `want` completions; returns the completed slots, verified.
    fn reap(&mut self, want: usize, done: &mut Vec<usize>) -> Result<()> {
        self.ring.submit_and_wait(want)?;
        done.clear();
        for cqe in self.ring.completion() {
            let slot = cqe.user_data() as usize;
            if cqe.result() != RAW_PAGE as i32 {
                bail!(
                    "io_uring read of page {} returned {}",
                    self.slot_page[slot],
                    cqe.result()
                );
            }
            done.push(slot);
        }
        for &slot in done.iter() {
            selfcheck::verify(&self.bufs[slot], self.sys.seed, self.slot_page[slot])?;
        }
        Ok(())
    }
}

impl Worker for RawUringWorker<'_> {
    fn op(&mut self, page: u32, _kind: OpKind) -> Result<()> {
        self.push(0, page)?;
        let mut done = Vec::with_capacity(1);
        self.reap(1, &mut done)
    }

    fn run(&mut self, ctx: &mut ThreadCtx<'_>) -> Result<()> {
        let (mut submitted, mut completed) = (0u64, 0u64);
        let mut free: Vec<usize> = (0..QUEUE_DEPTH).rev().collect();
        let mut done = Vec::with_capacity(QUEUE_DEPTH);
        let mut in_flight = 0usize;
        let result = (|| -> Result<()> {
            loop {
                if !ctx.stop.load(Ordering::Relaxed) {
                    while let Some(slot) = free.pop() {
                        let page = ctx.stream.next_op() & !OP_WRITE;
                        self.slot_t0[slot] = ctx.timed(submitted).then(Instant::now);
                        self.push(slot, page)?;
                        submitted += 1;
                        in_flight += 1;
                    }
                }
                ctx.progress.store(completed, Ordering::Relaxed);
                if in_flight == 0 {
                    return Ok(());
                }
                self.reap(1, &mut done)?;
                for &slot in &done {
                    if let Some(t0) = self.slot_t0[slot].take() {
                        ctx.record(t0.elapsed());
                    }
                    free.push(slot);
                    in_flight -= 1;
                    completed += 1;
                }
            }
        })();
        // Never leave a read in flight into buffers that are about to be freed.
        while in_flight > 0 {
            match self.ring.submit_and_wait(in_flight) {
                Ok(_) => {
                    in_flight -= self.ring.completion().count().min(in_flight);
                }
                Err(_) => {
                    // Cannot learn when the kernel is done with the buffers: leak them rather than free them.
                    std::mem::forget(std::mem::take(&mut self.bufs));
                    break;
                }
            }
        }
        ctx.ops = completed;
        result
    }
}
