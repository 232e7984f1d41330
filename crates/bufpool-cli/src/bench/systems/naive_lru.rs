//! `naive-lru`, the pool most projects write first: one `Mutex` over a `HashMap<page, frame>` and an exact LRU
//! list, a pin count per frame, and a `RwLock` per frame for the bytes. A miss picks the least recently used
//! unpinned frame, writes it back if dirty and reads the new page, all under the one mutex.
//!
//! Lock order: the pool mutex, then a frame's `RwLock` (only on the miss path, where the frame is unpinned and
//! so uncontended). An access pins under the mutex, releases it, latches the frame, and re-takes the mutex to
//! unpin.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, RwLock};

use anyhow::{anyhow, Result};
use bufpool::storage::AlignedBuf;

use super::raw_file::{RawFile, RAW_PAGE};
use crate::bench::driver::{IoCounters, OpKind, System, Worker};
use crate::bench::selfcheck;

const NONE: usize = usize::MAX;

struct State {
    map: HashMap<u32, usize>,
    page_of: Vec<u32>,
    pins: Vec<u32>,
    dirty: Vec<bool>,
    prev: Vec<usize>,
    next: Vec<usize>,
    /// Most recently used.
    head: usize,
    /// Least recently used.
    tail: usize,
    free: Vec<usize>,
}

impl State {
    fn unlink(&mut self, f: usize) {
        let (p, n) = (self.prev[f], self.next[f]);
        if p == NONE {
            self.head = n;
        } else {
            self.next[p] = n;
        }
        if n == NONE {
            self.tail = p;
        } else {
            self.prev[n] = p;
        }
    }

    fn push_front(&mut self, f: usize) {
        self.prev[f] = NONE;
        self.next[f] = self.head;
        if self.head != NONE {
            self.prev[self.head] = f;
        }
        self.head = f;
        if self.tail == NONE {
            self.tail = f;
        }
    }
}

/// The naive pool.
pub struct NaiveLru {
    file: RawFile,
    seed: u64,
    state: Mutex<State>,
    frames: Box<[RwLock<AlignedBuf>]>,
}

impl NaiveLru {
    /// A pool of `frames` frames over the raw file.
    pub fn new(file: RawFile, frames: usize, seed: u64) -> NaiveLru {
        NaiveLru {
            file,
            seed,
            state: Mutex::new(State {
                map: HashMap::with_capacity(frames),
                page_of: vec![u32::MAX; frames],
                pins: vec![0; frames],
                dirty: vec![false; frames],
                prev: vec![NONE; frames],
                next: vec![NONE; frames],
                head: NONE,
                tail: NONE,
                free: (0..frames).rev().collect(),
            }),
            frames: (0..frames).map(|_| RwLock::new(AlignedBuf::zeroed(RAW_PAGE))).collect(),
        }
    }

    /// Puts pages `0..pages` in free frames with their self-check, as a miss would but without reading: the
    /// `hit` workload's resident pages. Fails if there are fewer free frames than pages.
    pub fn populate(&self, pages: u32) -> Result<()> {
        let mut st = self.lock();
        for p in 0..pages {
            let f = st
                .free
                .pop()
                .ok_or_else(|| anyhow!("naive-lru: no free frame for page {p}"))?;
            selfcheck::init(
                &mut self.frames[f].write().unwrap_or_else(|e| e.into_inner()),
                self.seed,
                p,
            );
            st.page_of[f] = p;
            st.map.insert(p, f);
            st.push_front(f);
        }
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Pins `page` in a frame, loading it on a miss; returns the frame.
    fn pin(&self, page: u32) -> Result<usize> {
        let mut st = self.lock();
        if let Some(&f) = st.map.get(&page) {
            st.pins[f] += 1;
            st.unlink(f);
            st.push_front(f);
            return Ok(f);
        }
        let f = match st.free.pop() {
            Some(f) => f,
            None => {
                let mut v = st.tail;
                while v != NONE && st.pins[v] > 0 {
                    v = st.prev[v];
                }
                if v == NONE {
                    return Err(anyhow!("naive-lru: every frame is pinned"));
                }
                let buf = self.frames[v].write().unwrap_or_else(|e| e.into_inner());
                if st.dirty[v] {
                    self.file.write_page(st.page_of[v], &buf)?;
                    st.dirty[v] = false;
                }
                drop(buf);
                let old = st.page_of[v];
                st.map.remove(&old);
                st.unlink(v);
                v
            }
        };
        let mut buf = self.frames[f].write().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = self.file.read_page(page, &mut buf) {
            st.page_of[f] = u32::MAX;
            st.free.push(f);
            return Err(e);
        }
        drop(buf);
        st.page_of[f] = page;
        st.map.insert(page, f);
        st.pins[f] = 1;
        st.push_front(f);
        Ok(f)
    }

    fn unpin(&self, f: usize, dirty: bool) {
        let mut st = self.lock();
        st.pins[f] -= 1;
        st.dirty[f] |= dirty;
    }
}

/// A thread's handle on [`NaiveLru`].
pub struct NaiveLruWorker<'a>(&'a NaiveLru);

impl System for NaiveLru {
    type Worker<'a> = NaiveLruWorker<'a>;

    fn worker(&self) -> Result<NaiveLruWorker<'_>> {
        Ok(NaiveLruWorker(self))
    }

    fn counters(&self) -> &IoCounters {
        &self.file.counters
    }
}

impl Worker for NaiveLruWorker<'_> {
    fn op(&mut self, page: u32, kind: OpKind) -> Result<()> {
        let pool = self.0;
        let f = pool.pin(page)?;
        let r = if kind == OpKind::Write {
            let mut buf = pool.frames[f].write().unwrap_or_else(|e| e.into_inner());
            selfcheck::verify_and_bump(&mut buf, pool.seed, page)
        } else {
            let buf = pool.frames[f].read().unwrap_or_else(|e| e.into_inner());
            selfcheck::verify(&buf, pool.seed, page)
        };
        pool.unpin(f, kind == OpKind::Write);
        r
    }
}
