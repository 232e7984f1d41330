//! Session 44 (review44): a log's header slots and its records under a power loss of a device written through a
//! 4 KiB page cache (`FaultyStorage::crash_garbling_blocks`), as a file is: write-back writes a dirty page whole,
//! so every write puts the whole 4 KiB block it touches in flight, and a device that does not write a block
//! atomically (a 512e drive, many virtual disks) may garble any of its sectors when the power fails.
//!
//! Until session 44 a log's two header slots (bytes 0 and 512) and its first records (from byte 1024) shared the
//! first block (R43-O3 in RELIABILITY.md): a power loss during a cut's slot write, or during the write of a young
//! log's records, could garble both slots, and the log no longer opened ("no valid log header"), every committed
//! record in it lost. Each test here makes a write of one kind in flight, loses the power, and opens what the
//! device kept: the log must open with every record committed before.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bufpool::storage::{Fault, FaultConfig, FaultyStorage, Op, Storage};
use bufpool_btree::REGION_MIN;

use crate::common::hooked::{Hooked, Hooks};
use crate::common::put_ids as keys;
use crate::header_rewrite_power_loss::{is_header_write, open, put_len as put};

/// Opens `image` (what a power loss left) and checks that every record of `committed` is in it.
fn opens_with(image: Vec<u8>, capacity: Option<u64>, committed: std::ops::Range<u32>, what: &str) {
    let slots = [0usize, 512, 4096].map(|at| format!("{:02x?}", &image[at..(at + 8).min(image.len())]));
    let after = FaultyStorage::from_image(99, FaultConfig::none(), image);
    let wal = open(after, capacity).unwrap_or_else(|e| {
        panic!("{what}: the power loss left a log that does not open (bytes 0, 512, 4096 begin {slots:?}): {e}")
    });
    let got = keys(&wal);
    let lost: Vec<u32> = committed.filter(|k| !got.contains(k)).collect();
    assert!(
        lost.is_empty(),
        "{what}: committed records {lost:?} are gone (the log reads {} records)",
        got.len()
    );
}

/// A young log, some records committed, then a write of more records, not yet synced, when the power fails: the
/// write's first block is in flight, and with it whatever else the block holds. Until session 44 a log whose
/// records ended in its first block had its header slots there. The records committed in that block are in
/// flight too (an append writes the block holding the end of the log again): those are not checked (R44-O2 in
/// RELIABILITY.md), every record ending a block or more before the end of the log is.
#[test]
fn a_power_loss_during_a_write_of_a_young_logs_records_leaves_its_committed_records() {
    for (capacity, records) in [(None, 3), (Some(8192 + 2 * REGION_MIN), 3), (None, 30)] {
        let log = Arc::new(FaultyStorage::new(1, FaultConfig::none()));
        let hooks = Arc::new(PowerLossAtSlotWrite {
            dev: log.clone(),
            armed: AtomicBool::new(false),
            any_write: true,
            image: Mutex::new(None),
        });
        let wal = open(Hooked::new(log.clone(), hooks.clone()), capacity).unwrap();
        let ends: Vec<u64> = (0..records).map(|i| put(&wal, i, 300)).collect();
        wal.commit().unwrap();
        let end = *ends.last().unwrap();
        let kept = ends.iter().take_while(|&&e| e + 4096 <= end).count() as u32;
        // The next commit's write lands, and the power fails before its fsync.
        hooks.armed.store(true, Ordering::SeqCst);
        put(&wal, records, 300);
        assert!(wal.commit().is_err(), "the power was to fail in the commit");
        let image = hooks
            .image
            .lock()
            .unwrap()
            .take()
            .expect("the commit wrote its records");
        opens_with(
            image,
            capacity,
            0..kept,
            &format!("capacity {capacity:?}, {records} records: a write of records"),
        );
    }
}

/// Hooks that, once armed, lose the power at the first write into a header slot (or, with `any_write`, the first
/// write): the write lands, then [`FaultyStorage::crash_garbling_blocks`] of `dev`, every block written since the
/// last sync garbled.
struct PowerLossAtSlotWrite {
    dev: Arc<FaultyStorage>,
    armed: AtomicBool,
    any_write: bool,
    image: Mutex<Option<Vec<u8>>>,
}

impl Hooks for PowerLossAtSlotWrite {
    fn write(&self, below: &dyn Storage, buf: &[u8], offset: u64) -> io::Result<()> {
        below.write_at(buf, offset)?;
        if (self.any_write || is_header_write(offset)) && self.armed.swap(false, Ordering::SeqCst) {
            *self.image.lock().unwrap() = Some(self.dev.crash_garbling_blocks(1.0));
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        Ok(())
    }
}

/// A checkpoint's cut of the log (a header slot written, naming the new start), on an unbounded log and on a
/// bounded one (whose first cut of a half-full region switches regions): the power fails during the slot's write.
#[test]
fn a_power_loss_during_a_cuts_header_slot_write_leaves_its_committed_records() {
    for (capacity, count, len) in [(None, 60u32, 600usize), (Some(8192 + 2 * REGION_MIN), 120, 600)] {
        let log = Arc::new(FaultyStorage::new(1, FaultConfig::none()));
        let hooks = Arc::new(PowerLossAtSlotWrite {
            dev: log.clone(),
            armed: AtomicBool::new(false),
            any_write: false,
            image: Mutex::new(None),
        });
        let wal = open(Hooked::new(log.clone(), hooks.clone()), capacity).unwrap();
        let ends: Vec<u64> = (0..count).map(|i| put(&wal, i, len)).collect();
        wal.commit().unwrap();
        let keep = count - 20;
        hooks.armed.store(true, Ordering::SeqCst);
        assert!(
            wal.truncate_before(ends[keep as usize - 1]).is_err(),
            "the power was to fail in the cut"
        );
        let image = hooks.image.lock().unwrap().take().expect("the cut wrote a header slot");
        opens_with(image, capacity, keep..count, &format!("capacity {capacity:?}: a cut"));
    }
}

/// A bounded log's two regions share no 4 KiB block whatever its capacity: its region length is a whole number of
/// blocks (a switch writes zeros to its region's end, which would otherwise put the other region's first block in
/// flight), and its capacity as the log reports it is what it uses; opened again with the capacity it was given,
/// it opens.
#[test]
fn a_bounded_logs_regions_share_no_block() {
    for extra in [0u64, 1, 3000, 4095, 4096, 12_345] {
        let cap = 8192 + 2 * REGION_MIN + extra;
        let log = Arc::new(FaultyStorage::new(1, FaultConfig::none()));
        let wal = open(log.clone(), Some(cap)).unwrap();
        let used = wal.capacity().unwrap();
        let region_len = (used - 8192) / 2;
        assert!(
            region_len.is_multiple_of(4096) && used <= cap && cap - used < 2 * 4096,
            "capacity {cap}: {used}"
        );
        drop(wal);
        open(log, Some(cap)).unwrap_or_else(|e| panic!("capacity {cap}: reopened: {e}"));
    }
}

/// Hooks that count the bytes written (and the writes, the syncs) below.
#[derive(Default)]
struct Counted {
    writes: std::sync::atomic::AtomicU64,
    bytes: std::sync::atomic::AtomicU64,
    syncs: std::sync::atomic::AtomicU64,
}

impl Counted {
    fn take(&self) -> (u64, u64, u64) {
        let t = |a: &std::sync::atomic::AtomicU64| a.swap(0, Ordering::SeqCst);
        (t(&self.writes), t(&self.bytes), t(&self.syncs))
    }
}

impl Hooks for Counted {
    fn write(&self, below: &dyn Storage, buf: &[u8], offset: u64) -> io::Result<()> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.bytes.fetch_add(buf.len() as u64, Ordering::SeqCst);
        below.write_at(buf, offset)
    }
    fn sync(&self, below: &dyn Storage) -> io::Result<()> {
        self.syncs.fetch_add(1, Ordering::SeqCst);
        below.sync()
    }
}

/// What an open (of a log closed cleanly) and a cut cost: writes, bytes written, fsyncs. The block layout moved
/// the header slots, not what is written: the same as session 43's main (`90e6f2f`, by this test with its
/// capacity 7,168 bytes less and a new log's 1,024 bytes): an open its rewrite of the records read (R39-2) and one
/// 128-byte slot, an fsync each (since R47-10 the rewrite writes only blocks the device lacks: none here); a header-slot cut its slot and two fsyncs; a switch the copy of the kept
/// records, its slot, two fsyncs.
/// A new log's header region is 8 KiB instead of 1 KiB: one write and one fsync, as before.
#[test]
fn an_open_and_a_cut_cost_what_they_did_before_the_block_layout() {
    for capacity in [None, Some(8192 + 2 * REGION_MIN)] {
        let log = Arc::new(FaultyStorage::new(1, FaultConfig::none()));
        let hooks = Arc::new(Counted::default());
        let dev = || Hooked::new(log.clone(), hooks.clone());
        let wal = open(dev(), capacity).unwrap();
        assert_eq!(hooks.take(), (1, 8192, 1), "capacity {capacity:?}: a new log");
        let ends: Vec<u64> = (0..120).map(|i| put(&wal, i, 600)).collect();
        wal.commit().unwrap();
        hooks.take();
        wal.truncate_before(ends[99]).unwrap();
        let cut = hooks.take();
        match capacity {
            // The buffer is empty: its write-out writes nothing, syncs once; then the slot and its fsync.
            None => assert_eq!(cut, (1, 128, 2), "a header-slot cut"),
            // The kept records copied (20 of them), the slot, two fsyncs.
            Some(_) => {
                assert_eq!((cut.0, cut.2), (2, 2), "a switch");
                assert_eq!(cut.1, 128 + (ends[119] - ends[99]), "a switch's bytes");
            }
        }
        drop(wal);
        let wal = open(dev(), capacity).unwrap();
        // The records read, all on the device: none written again (R39-2 writes only what the device lacks since
        // R47-10; until then the 20 kept, `kept + 128` bytes in two writes), an fsync; then the slot and its fsync.
        assert_eq!(hooks.take(), (1, 128, 2), "capacity {capacity:?}: an open");
        assert_eq!(keys(&wal), (100..120).collect::<Vec<_>>());
    }
}

/// R43-O2 (session 47, review47): an open after a crash of the process (or after a failed fsync, in the same
/// process) writes the records it read again and syncs them, because readable is not durable (R39-2). Until
/// session 47 it wrote every record from the log's start, durable or not: every block of them in flight at once,
/// and a power loss during that write (before its fsync) garbled records that were committed and on the device,
/// and the log then ended at the first of them. Here a log holds committed records (on the device) and, in the
/// second case, records after them whose fsync failed (readable, not durable); the process dies, and the power
/// fails at the first write of the next open: every record committed a block or more before the failed ones
/// (all of them in the first case) must be in what the device kept.
#[test]
fn a_power_loss_during_an_opens_rewrite_of_the_records_read_leaves_the_committed_ones() {
    for (capacity, failed) in [
        (None, 0u32),
        (None, 8),
        (Some(8192 + 2 * REGION_MIN), 0),
        (Some(8192 + 2 * REGION_MIN), 8),
    ] {
        let what = format!("capacity {capacity:?}, {failed} records whose fsync failed");
        let log = Arc::new(FaultyStorage::new(1, FaultConfig::none()));
        let wal = open(log.clone(), capacity).unwrap();
        let count = 60u32;
        let ends: Vec<u64> = (0..count).map(|i| put(&wal, i, 600)).collect();
        wal.commit().unwrap();
        let end = *ends.last().unwrap();
        if failed > 0 {
            for i in count..count + failed {
                put(&wal, i, 600);
            }
            log.inject_next(Op::Sync, Fault::Eio);
            assert!(wal.commit().is_err(), "{what}: the commit's fsync was to fail");
        }
        // The records committed in the block the failed ones continue are in flight with them (R44-O2).
        let kept = match failed {
            0 => count,
            _ => ends.iter().take_while(|&&e| e + 4096 <= end).count() as u32,
        };
        drop(wal);
        let hooks = Arc::new(PowerLossAtSlotWrite {
            dev: log.clone(),
            armed: AtomicBool::new(true),
            any_write: true,
            image: Mutex::new(None),
        });
        assert!(
            open(Hooked::new(log.clone(), hooks.clone()), capacity).is_err(),
            "{what}: the power was to fail in the open"
        );
        let image = hooks.image.lock().unwrap().take().expect("the open wrote");
        opens_with(image, capacity, 0..kept, &format!("{what}: the open's first write"));
    }
}
