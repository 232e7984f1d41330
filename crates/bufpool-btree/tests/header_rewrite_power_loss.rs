//! Session 43 (review43): a power loss during an open's writes of the log's header slots, on a device that
//! garbles the sectors it was writing (`FaultyStorage::crash_garbling`: neither old nor new bytes, as a real
//! disk's sector cut off mid-write).
//!
//! The log keeps two header slots in different sectors so that a power loss during a header write always leaves
//! one valid slot. Session 42 made every open write the header again before it trusts the log (L42-1, R42-3):
//! both slots, as read, in one write of bytes 0..640 and one fsync. That one write has both sectors in flight at
//! once: a power loss during it could garble both, and the log no longer opened ("no valid log header"), every
//! committed record in it lost. Each test here builds a log in some state, opens it on a storage that loses the
//! power at the open's n-th write into the header sectors (for every n the open makes), and opens what the device
//! kept: the log must open with every committed record at or after its cut point.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bufpool::storage::{Fault, FaultConfig, FaultyStorage, Op as IoOp, Storage};
use bufpool::BufferPool;
use bufpool_btree::{Op, Tree, TreeWal, REGION_MIN};
use common::{key, put_ids as keys, value};

use crate::common;
use crate::common::hooked::{Hooked, Hooks};
use crate::log_format_version::SLOT_AT;

/// Where a log's records begin: its two header slots lie below (`wal.rs`' module docs, "File format").
const LOG_HDR: u64 = 1024;

/// Hooks of a log storage that lose the power at its `nth` write into the header sectors (bytes below
/// [`LOG_HDR`]): the write lands, then [`FaultyStorage::crash_garbling`] of `dev` (the storage below) with every
/// sector written since the last sync garbled. That write and every later call fail (the device is gone).
struct PowerLossAtHeaderWrite {
    dev: Arc<FaultyStorage>,
    nth: usize,
    /// The power loss of a device written through a 4 KiB page cache (`FaultyStorage::crash_garbling_blocks`,
    /// session 44): every sector of the blocks written since the last sync is garbled, not only those written.
    blocks: bool,
    seen: AtomicUsize,
    image: Mutex<Option<Vec<u8>>>,
}

impl Hooks for PowerLossAtHeaderWrite {
    fn write(&self, below: &dyn Storage, buf: &[u8], offset: u64) -> io::Result<()> {
        below.write_at(buf, offset)?;
        if is_header_write(offset) && self.seen.fetch_add(1, Ordering::SeqCst) + 1 == self.nth {
            *self.image.lock().unwrap() = Some(power_loss(&self.dev, self.blocks));
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        Ok(())
    }
}

/// Whether a write at `offset` is one of a header slot's (or a new log's header region): below [`LOG_HDR`] (both
/// slots of a log in session 43's layout, slot 0 of one in session 44's), or at slot 1 of session 44's layout
/// (byte 4096, "File format" in `wal.rs`'s module docs). A record of either layout never starts at byte 4096 in
/// these tests' logs (the first record a cut keeps lies past a `DEL` record, which is not 3,072 bytes long).
pub(crate) fn is_header_write(offset: u64) -> bool {
    offset < LOG_HDR || offset == 4096
}

/// A power loss on `dev` during its pending writes, each sector written since the last sync garbled (and, with
/// `blocks`, every other sector of the 4 KiB blocks they touch): the image the device keeps.
pub(crate) fn power_loss(dev: &FaultyStorage, blocks: bool) -> Vec<u8> {
    match blocks {
        true => dev.crash_garbling_blocks(1.0),
        false => dev.crash_garbling(1.0),
    }
}

fn put(wal: &TreeWal, i: u32) -> u64 {
    put_len(wal, i, 600)
}

/// Appends a put of key `key{i:05}` with a value of `len` bytes; returns the record's end.
pub(crate) fn put_len(wal: &TreeWal, i: u32, len: usize) -> u64 {
    wal.append(&[Op::Put {
        page: 3,
        key: format!("key{i:05}").as_bytes(),
        val: &vec![i as u8; len],
    }])
    .unwrap()
}

pub(crate) fn open(dev: impl Storage, capacity: Option<u64>) -> bufpool_btree::Result<Arc<TreeWal>> {
    match capacity {
        Some(c) => TreeWal::open_storage_with_capacity(dev, c),
        None => TreeWal::open_storage(dev),
    }
}

/// What a scenario leaves: the log's device (in the same process: what it dropped may still be readable), the
/// capacity it is opened with, and the records that must survive any power loss from here on.
struct Scenario {
    log: Arc<FaultyStorage>,
    capacity: Option<u64>,
    committed: std::ops::Range<u32>,
}

/// For every n, a fresh `make()` whose open loses the power at its n-th header write: the device's image must
/// open with every committed record. Returns the count of header writes an open made.
fn power_loss_at_each_header_write(what: &str, make: impl Fn() -> Scenario) -> usize {
    let writes = power_loss_at_each_header_write_in(false, what, &make);
    power_loss_at_each_header_write_in(true, &format!("{what} (4 KiB blocks)"), make);
    writes
}

/// [`power_loss_at_each_header_write`] with one kind of power loss: `blocks`, [`power_loss`]'s.
fn power_loss_at_each_header_write_in(blocks: bool, what: &str, make: impl Fn() -> Scenario) -> usize {
    for nth in 1..=8 {
        let s = make();
        let hooks = Arc::new(PowerLossAtHeaderWrite {
            dev: s.log.clone(),
            nth,
            blocks,
            seen: AtomicUsize::new(0),
            image: Mutex::new(None),
        });
        let opened = open(Hooked::new(s.log.clone(), hooks.clone()), s.capacity);
        let Some(image) = hooks.image.lock().unwrap().take() else {
            // The open made fewer than `nth` header writes: it must have opened whole.
            let wal = opened.unwrap_or_else(|e| panic!("{what}: the open without a power loss: {e}"));
            let got = keys(&wal);
            assert!(s.committed.clone().all(|k| got.contains(&k)), "{what}: {got:?}");
            return nth - 1;
        };
        assert!(opened.is_err(), "{what}: the open went on after the power loss");
        assert!(s.log.counts().crash_sectors_garbled > 0, "{what}: nothing was garbled");
        let after = FaultyStorage::from_image(99, FaultConfig::none(), image.clone());
        let slots = SLOT_AT.map(|at| format!("{:02x?}", &image[at as usize..at as usize + 8]));
        let wal = open(after, s.capacity).unwrap_or_else(|e| {
            panic!(
                "{what}: a power loss during the open's header write {nth} left a log that does not open (its slots \
                 begin {slots:?}): {e}"
            )
        });
        let got = keys(&wal);
        let lost: Vec<u32> = s.committed.clone().filter(|k| !got.contains(k)).collect();
        assert!(
            lost.is_empty(),
            "{what}: a power loss during the open's header write {nth}: committed records {lost:?} are gone (the log \
             reads {} records)",
            got.len()
        );
    }
    panic!("{what}: more header writes than expected");
}

/// An unbounded log whose header slot 1 a cut wrote: both slots valid.
#[test]
fn a_power_loss_during_the_open_of_a_cut_log_leaves_a_log_that_opens_whole() {
    let writes = power_loss_at_each_header_write("a cut log", || {
        let log = Arc::new(FaultyStorage::new(1, FaultConfig::none()));
        let wal = TreeWal::open_storage(log.clone()).unwrap();
        let ends: Vec<u64> = (0..50).map(|i| put(&wal, i)).collect();
        wal.commit().unwrap();
        wal.truncate_before(ends[19]).unwrap();
        (50..60).for_each(|i| {
            put(&wal, i);
        });
        wal.commit().unwrap();
        Scenario {
            log,
            capacity: None,
            committed: 20..60,
        }
    });
    assert!(writes >= 1);
}

/// A bounded log after a switch (the slot in force names the second region, the other slot the first, whose
/// records end where the switch began) and commits after it: the other slot is valid and durable, but not a log
/// that holds every committed record. A power loss garbling the slot in force must not leave it in force.
#[test]
fn a_power_loss_during_the_open_of_a_switched_log_leaves_a_log_that_opens_whole() {
    const CAP: u64 = 8192 + 2 * REGION_MIN;
    power_loss_at_each_header_write("a switched log", || {
        let log = Arc::new(FaultyStorage::new(1, FaultConfig::none()));
        let wal = TreeWal::open_storage_with_capacity(log.clone(), CAP).unwrap();
        let ends: Vec<u64> = (0..120).map(|i| put(&wal, i)).collect();
        wal.commit().unwrap();
        wal.truncate_before(ends[99]).unwrap();
        assert_eq!(wal.switches(), 1, "the cut was to switch regions");
        (120..140).for_each(|i| {
            put(&wal, i);
        });
        wal.commit().unwrap();
        Scenario {
            log,
            capacity: Some(CAP),
            committed: 100..140,
        }
    });
}

/// A log never cut: slot 1 holds zeros, slot 0 is the only header.
#[test]
fn a_power_loss_during_the_open_of_a_log_never_cut_leaves_a_log_that_opens_whole() {
    for capacity in [None, Some(8192 + 2 * REGION_MIN)] {
        power_loss_at_each_header_write("a log never cut", || {
            let log = Arc::new(FaultyStorage::new(1, FaultConfig::none()));
            let wal = open(log.clone(), capacity).unwrap();
            (0..30).for_each(|i| {
                put(&wal, i);
            });
            wal.commit().unwrap();
            Scenario {
                log,
                capacity,
                committed: 0..30,
            }
        });
    }
}

/// Makes `wal`'s cut before `end` (`what`: a "cut" of the header slot, or a bounded log's "switch") fail at its
/// second fsync, its header slot's (the first makes its records durable), and drops the failed log: the fault
/// must fire there, and the slot's failed write must be put back as the device holds it (slot 1: both scenarios
/// write it).
fn fail_the_header_sync(log: &FaultyStorage, wal: Arc<TreeWal>, end: u64, what: &str) {
    let syncs = log.counts().syncs;
    log.inject_nth(IoOp::Sync, syncs + 2, Fault::Eio);
    assert!(
        wal.truncate_before(end).is_err(),
        "the {what}'s header sync was to fail"
    );
    assert_eq!(log.counts().sync_eio, 1, "the injected fault did not fire where meant");
    drop(wal);
    // Slot 1: byte 4096 (session 44's block layout).
    assert_eq!(
        &log.live_image()[4096..4224],
        &log.durable_image()[4096..4224],
        "the failed {what}'s slot was not put back as the device holds it"
    );
}

/// L42-1's state: a bounded log's first switch whose header fsync failed, so the slot in force (slot 1, naming the
/// new region) is readable and not durable, and the device holds zeros there; slot 0, durable, names the old
/// region. The open in the same process makes the slot in force durable; a power loss during that must not
/// take slot 0 with it.
#[test]
fn a_power_loss_during_a_reopen_after_a_failed_switch_header_sync_leaves_a_log_that_opens_whole() {
    const CAP: u64 = 8192 + 2 * REGION_MIN;
    power_loss_at_each_header_write("after a failed switch", || {
        let log = Arc::new(FaultyStorage::new(1, FaultConfig::none()));
        let wal = TreeWal::open_storage_with_capacity(log.clone(), CAP).unwrap();
        let ends: Vec<u64> = (0..120).map(|i| put(&wal, i)).collect();
        wal.commit().unwrap();
        // Past half the region: the cut switches. Its syncs: the new region's records, then its header slot.
        fail_the_header_sync(&log, wal, ends[99], "switch");
        assert_eq!(&log.durable_image()[4096..4104], &[0; 8], "slot 1 was never durable");
        Scenario {
            log,
            capacity: Some(CAP),
            committed: 100..120,
        }
    });
}

/// An unbounded log's header-slot cut whose slot fsync failed (the log failed), then the reopen in the same
/// process: the slot's write must not be read as the slot in force (it is not on the device).
#[test]
fn a_power_loss_during_a_reopen_after_a_failed_cut_header_sync_leaves_a_log_that_opens_whole() {
    power_loss_at_each_header_write("after a failed cut", || {
        let log = Arc::new(FaultyStorage::new(1, FaultConfig::none()));
        let wal = TreeWal::open_storage(log.clone()).unwrap();
        let ends: Vec<u64> = (0..40).map(|i| put(&wal, i)).collect();
        wal.commit().unwrap();
        // The cut's syncs: its records (none new), then its header slot.
        fail_the_header_sync(&log, wal, ends[29], "cut");
        Scenario {
            log,
            capacity: None,
            committed: 0..40,
        }
    });
}

/// A legacy log (both slots `BPTWAL02`/`BPTWAL03`, the layout before session 44), whose open upgrades the header
/// too. Unbounded, with its records in the first 4 KiB block (copied past the second) or past the second (named
/// where they are), the open moves it to the block layout (session 44), safe under either power loss. Unbounded
/// with records in the second block, or bounded, it stays in its layout, whose slots share a block (R44-O1 in
/// RELIABILITY.md), and only the sector-granular power loss is survived.
#[test]
fn a_power_loss_during_the_open_of_a_legacy_log_leaves_a_log_that_opens_whole() {
    use crate::legacy_upgrade_failed_sync::legacy_log_of;
    let make = |capacity, puts, dead| {
        move || Scenario {
            log: legacy_log_of(capacity, puts, dead),
            capacity,
            committed: 0..puts,
        }
    };
    power_loss_at_each_header_write("a legacy log in the first block", make(None, 60, 0));
    power_loss_at_each_header_write("a legacy log past the second block", make(None, 100, 8 << 10));
    power_loss_at_each_header_write_in(false, "a legacy log in the second block", make(None, 100, 0));
    let bounded = Some(1024 + 2 * (256u64 << 10));
    power_loss_at_each_header_write_in(false, "a legacy bounded log", make(bounded, 100, 0));
}

/// R42-3's state: a legacy log's upgrade whose last fsync failed (a slot readable in this build's layout, legacy
/// on the device), then the reopen in the same process.
///
/// Bounded, only under the sector-granular power loss, as above (R44-O1).
#[test]
fn a_power_loss_during_a_reopen_after_a_failed_upgrade_leaves_a_log_that_opens_whole() {
    for capacity in [None, Some(1024 + 2 * (256u64 << 10))] {
        let what = format!("after a failed upgrade, capacity {capacity:?}");
        let run = |blocks| {
            power_loss_at_each_header_write_in(blocks, &what, || {
                // Unbounded, in the first block: moved to the block layout (above).
                let puts = if capacity.is_none() { 60 } else { 100 };
                let log = crate::legacy_upgrade_failed_sync::legacy_log_of(capacity, puts, 0);
                let trial = Arc::new(FaultyStorage::from_image(2, FaultConfig::none(), log.live_image()));
                drop(open(trial.clone(), capacity).unwrap());
                let base = log.counts().syncs;
                log.inject_nth(IoOp::Sync, base + trial.counts().syncs, Fault::Eio);
                assert!(
                    open(log.clone(), capacity).is_err(),
                    "the upgrade's last fsync was to fail the open"
                );
                Scenario {
                    log,
                    capacity,
                    committed: 0..puts,
                }
            })
        };
        run(false);
        if capacity.is_none() {
            run(true);
        }
    }
}

// The data file's record (R42-4's rewrite at open, `bufpool`'s `files.rs` `open_record`): its two slots in the
// record store (the sidecar `<file>.bpmeta` of a file opened by path) let an update garbled by a power loss leave
// the other. The open writes the record it read again before it relies on it; written over its own slot, a power
// loss garbling that write left no record when the other slot was already gone (an earlier power loss during an
// update of it, or during the record's creation).

/// Hooks of a data storage whose file record lives in a second `FaultyStorage` (as the sidecar beside a file),
/// which loses the power at the record's first write if `power_loss` is set: the write lands, then every sector
/// of the record written since its last sync is garbled.
struct RecordOn {
    record: Arc<FaultyStorage>,
    power_loss: bool,
    /// [`power_loss`]'s `blocks`.
    blocks: bool,
    image: Mutex<Option<Vec<u8>>>,
}

impl bufpool::storage::RecordStore for RecordOn {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let len = self.record.len()?;
        if offset >= len {
            return Ok(0);
        }
        let n = buf.len().min((len - offset) as usize);
        self.record.read_at(&mut buf[..n], offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.record.write_at(buf, offset)?;
        if self.power_loss {
            *self.image.lock().unwrap() = Some(power_loss(&self.record, self.blocks));
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        Ok(())
    }
    fn sync(&self) -> io::Result<()> {
        self.record.sync()
    }
}

impl Hooks for RecordOn {
    fn record_store<'a>(&'a self, _below: &'a dyn Storage) -> Option<&'a dyn bufpool::storage::RecordStore> {
        Some(self)
    }
}

/// A tree whose data file's record has one valid slot left (the other garbled by an earlier power loss), opened
/// on a device that loses the power at the open's write of the record: before the first checkpoint (the data file
/// empty, every change in the log) and after one (the file holds pages). What the devices keep must open with
/// every committed key. And (session 44) the same with both slots valid, on a record store written through a
/// 4 KiB page cache (`blocks`): a power loss there garbles the whole block the write touched.
#[test]
fn a_power_loss_during_the_opens_record_write_leaves_a_data_file_that_opens_whole() {
    for (blocks, checkpointed) in [(false, false), (false, true), (true, false), (true, true)] {
        let dev = |seed| Arc::new(FaultyStorage::new(seed, FaultConfig::none()));
        let (log, pages, record) = (dev(1), dev(2), dev(3));
        let open = |log: &Arc<FaultyStorage>, pages: &Arc<FaultyStorage>, record: &Arc<FaultyStorage>, power_loss| {
            let pool = Arc::new(BufferPool::builder().frames(256).build().unwrap());
            let hooks = Arc::new(RecordOn {
                record: record.clone(),
                power_loss,
                blocks,
                image: Mutex::new(None),
            });
            let data = Hooked::new(pages.clone(), hooks.clone());
            let tree = TreeWal::open_storage(log.clone()).and_then(|wal| Tree::open_storage(pool, wal, data));
            let image = hooks.image.lock().unwrap().take();
            (tree, image)
        };
        let tree = open(&log, &pages, &record, false).0.unwrap();
        for id in 0..300 {
            tree.put(&key(id), &value(id, 0)).unwrap();
            if checkpointed && id == 200 {
                tree.checkpoint().unwrap();
            }
        }
        tree.commit().unwrap();
        drop(tree);
        if !blocks {
            // An earlier power loss garbled the slot not in force (the one of the lower sequence number).
            let image = record.live_image();
            let seq = |at: usize| u64::from_le_bytes(image[at + 24..at + 32].try_into().unwrap());
            // The record's slots: bytes 0 and 4096 (session 44; until then 0 and 512).
            let other = if seq(0) < seq(4096) { 0 } else { 4096 };
            record.write_at(&[0xee; 512], other as u64).unwrap();
            record.sync().unwrap();
        }
        let (failed, image) = open(&log, &pages, &record, true);
        assert!(failed.is_err(), "the power was lost during the open");
        let image = image.expect("the open wrote the record");
        // The devices as the power loss left them.
        let kept = |s: &FaultyStorage| Arc::new(FaultyStorage::from_image(9, FaultConfig::none(), s.durable_image()));
        let record = Arc::new(FaultyStorage::from_image(9, FaultConfig::none(), image));
        let (tree, _) = open(&kept(&log), &kept(&pages), &record, false);
        let tree = tree.unwrap_or_else(|e| {
            panic!(
                "blocks {blocks}, checkpointed {checkpointed}: a power loss during the open's write of the data file's record left a \
                 tree that does not open ({} bytes of data on the device): {e}",
                pages.durable_image().len()
            )
        });
        tree.check().unwrap();
        for id in 0..300 {
            assert_eq!(tree.get(&key(id)).unwrap(), Some(value(id, 0)), "key {id}");
        }
    }
}

/// The fsyncs an open of a log costs (its directory's aside, for a log opened by path): the records read, written
/// again (none for a log with no record from its start on); then the header slot's write (R43-1: one slot) with
/// the torn tail's cut, in one. Until session 43 an open that cut a torn tail made three, the cut synced on its
/// own (measured on main `bc3e2b7` by this test's counts: 1, 4, 2, 3, 2, 3).
#[test]
fn an_open_syncs_the_records_read_then_its_header_slot_with_the_torn_tail() {
    let syncs_of_an_open = |log: &FaultyStorage, capacity| {
        let dev = Arc::new(FaultyStorage::from_image(5, FaultConfig::none(), log.durable_image()));
        drop(open(dev.clone(), capacity).unwrap());
        dev.counts().syncs
    };
    // A new log: its header region, synced; nothing more.
    let fresh = FaultyStorage::new(1, FaultConfig::none());
    assert_eq!(syncs_of_an_open(&fresh, None), 1, "a new log");
    // A legacy log: its records, its slot with the tail, then one cut for the other slot (until session 43: 4).
    let legacy = crate::legacy_upgrade_failed_sync::legacy_log(None);
    assert_eq!(syncs_of_an_open(&legacy, None), 3, "a legacy log");
    for capacity in [None, Some(8192 + 2 * REGION_MIN)] {
        let log = Arc::new(FaultyStorage::new(1, FaultConfig::none()));
        let wal = open(log.clone(), capacity).unwrap();
        (0..30).for_each(|i| {
            put(&wal, i);
        });
        wal.commit().unwrap();
        let end = log.len().unwrap();
        drop(wal);
        // Its storage ends at its records: nothing to cut.
        assert_eq!(syncs_of_an_open(&log, capacity), 2, "capacity {capacity:?}");
        // A torn tail: a record's first bytes past the end (until session 43, synced apart: three).
        log.write_at(&[0x5a; 700], end).unwrap();
        log.sync().unwrap();
        assert_eq!(
            syncs_of_an_open(&log, capacity),
            2,
            "capacity {capacity:?}, a torn tail"
        );
    }
}
