//! The log's buffer bound on a full device while a write-out is in flight (review22, R22-1 in RELIABILITY.md).
//!
//! From `BUF_HARD_MAX` buffered bytes on, `TreeWal::check` and `TreeWal::append` try the write-out themselves
//! and, refused for space, refuse the append: a log buffers at most that much, plus one record per appender,
//! while the device is full (wal.rs, "A full device"). A write-out takes the records out of the buffer while it
//! writes them; until R22-1 the bound was checked against what was left in the buffer, so every append on
//! another thread during that write passed (the buffer looked empty), and the records the write-out put back
//! after its refusal came back in front of them: the buffer grew past the bound by whatever was appended during
//! each refused write, without limit.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use bufpool::storage::{MemoryStorage, Storage};
use bufpool_btree::{Error, TreeWal, BUF_HARD_MAX};

use crate::common;
use crate::common::hooked::{Hooked, Hooks};

/// A memory device's hooks that can make it full (every write refused for space) and can hold the next refused
/// write until the test releases it (a slow device: the write-out is in flight meanwhile).
struct Full {
    full: AtomicBool,
    /// The next write waits until released; then no longer set.
    hold: AtomicBool,
    /// (a write is held, released).
    gate: Mutex<(bool, bool)>,
    cv: Condvar,
}

impl Full {
    fn release(&self) {
        self.gate.lock().unwrap().1 = true;
        self.cv.notify_all();
    }

    fn wait_held(&self) {
        let mut g = self.gate.lock().unwrap();
        while !g.0 {
            g = self.cv.wait(g).unwrap();
        }
    }
}

impl Hooks for Full {
    fn write(&self, below: &dyn Storage, buf: &[u8], offset: u64) -> io::Result<()> {
        if !self.full.load(Ordering::SeqCst) {
            return below.write_at(buf, offset);
        }
        if self.hold.swap(false, Ordering::SeqCst) {
            let mut g = self.gate.lock().unwrap();
            g.0 = true;
            self.cv.notify_all();
            while !g.1 {
                g = self.cv.wait(g).unwrap();
            }
        }
        Err(io::Error::from(io::ErrorKind::StorageFull))
    }
}

/// A record of about 64 KiB.
const VAL: usize = 64 << 10;

#[test]
fn appends_during_a_refused_write_out_stay_within_the_bound() {
    let dev = Arc::new(Full {
        full: AtomicBool::new(false),
        hold: AtomicBool::new(false),
        gate: Mutex::new((false, false)),
        cv: Condvar::new(),
    });
    let wal = TreeWal::open_storage(Hooked::new(MemoryStorage::new(), dev.clone())).unwrap();
    dev.full.store(true, Ordering::SeqCst);
    // Fill the buffer to the bound: the append past it is refused for space, appending nothing.
    let mut ends = Vec::new();
    let err = loop {
        let i = ends.len() as u32;
        assert!(i < 1000, "never refused");
        match common::append_puts(&wal, i, 1, VAL, 7) {
            Ok(e) => ends.extend(e),
            Err(e) => break e,
        }
    };
    assert!(matches!(err, Error::NoSpace(_)), "{err}");
    let at_bound = wal.buffered_bytes();
    assert!(at_bound > BUF_HARD_MAX, "refused only past the bound");

    // Thread 1's check tries the write-out, which the device holds (in flight), then refuses for space.
    dev.hold.store(true, Ordering::SeqCst);
    let checker = {
        let wal = wal.clone();
        std::thread::spawn(move || wal.check())
    };
    dev.wait_held();
    // Thread 2 appends meanwhile: the device is as full as before, so it must be refused too (the bound allows
    // one record per appender).
    let accepted = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let appender = {
        let (wal, accepted, done) = (wal.clone(), accepted.clone(), done.clone());
        let first = ends.len() as u32;
        std::thread::spawn(move || {
            let mut mine = Vec::new();
            for i in first..first + 64 {
                if let Ok(e) = common::append_puts(&wal, i, 1, VAL, 8) {
                    mine.extend(e);
                    accepted.fetch_add(1, Ordering::SeqCst);
                }
            }
            done.store(true, Ordering::SeqCst);
            mine
        })
    };
    // Let the appender run while the write-out is held: until it is done, or (an appender that waits for the
    // write-out, as it should) for up to 2 s.
    let until = Instant::now() + Duration::from_secs(2);
    while !done.load(Ordering::SeqCst) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
    }
    dev.release();
    let checked = checker.join().unwrap();
    assert!(matches!(checked, Err(Error::NoSpace(_))), "{checked:?}");
    let mine = appender.join().unwrap();
    let accepted = accepted.load(Ordering::SeqCst);
    let buffered = wal.buffered_bytes();
    assert!(
        accepted <= 1,
        "{accepted} of 64 appends of {VAL} bytes accepted on a full device at the bound while a write-out was \
         in flight (buffered: {at_bound} bytes before, {buffered} after; bound {BUF_HARD_MAX})"
    );
    assert!(
        buffered <= at_bound + (VAL + 64),
        "buffered {buffered} bytes, {at_bound} at the bound"
    );

    // Space back: every record accepted is written, in LSN order, once.
    dev.full.store(false, Ordering::SeqCst);
    ends.extend(mine);
    wal.commit().unwrap();
    assert_eq!(common::record_ends(&wal), ends);
}
