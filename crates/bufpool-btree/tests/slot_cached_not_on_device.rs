//! Session 46 (fix46), R43-O5: a header slot the page cache holds and the device does not, trusted by an open.
//!
//! A cut writes the header slot not in force (B) and its fsync fails: Linux keeps the page cached and marks it
//! clean, so B reads as written while the device holds its old bytes. `restore_slot` (R43-1) writes the old
//! bytes back; when that write fails too (a failing device), or the process dies between the failed fsync and the
//! restore, B stays readable and not durable. A new open on the same running system read B as the slot in force
//! and wrote its contents over the other slot (A), the only durable valid one; a power loss garbling that write
//! left A garbled and B's old bytes, which name records a switch or a punch has taken since: no usable slot. Three
//! faults in a row, but the last one is the very write an open makes. Here a bounded log's first switch fails
//! its header fsync and its undo (a hook fails the undo's write), then an open in the same process loses the
//! power (`FaultyStorage::crash_garbling`, every sector written since the last sync garbled) at its slot write,
//! and the device's image must open with every committed record. `FaultyStorage`'s live image is the page cache
//! and its durable image the device (a failed sync's writes stay in the first, never reach the second).

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bufpool::storage::{Fault, FaultConfig, FaultyStorage, Op as IoOp, Storage};
use bufpool_btree::{Op, TreeWal, REGION_MIN};

use crate::common::hooked::{Hooked, Hooks};
use crate::common::put_ids as puts;

/// Where the block layout puts the second header slot (`wal.rs`' module docs, "The block layout").
const SLOT_1: u64 = 4096;
/// Where the block layout's records begin: both header slots lie below.
const LOG_HDR: u64 = 8192;

/// Hooks of the log's storage: fail the `n`th write at [`SLOT_1`] from when armed (the switch's slot write
/// passes, its undo fails), and lose the power at the next header write once `power_loss` is set.
struct Device {
    dev: Arc<FaultyStorage>,
    /// Writes at [`SLOT_1`] to let through before failing one; `usize::MAX`: none fails.
    fail_slot1_after: AtomicUsize,
    power_loss: AtomicBool,
    /// The device's image after the power loss.
    image: Mutex<Option<Vec<u8>>>,
}

impl Hooks for Device {
    fn write(&self, below: &dyn Storage, buf: &[u8], offset: u64) -> io::Result<()> {
        if offset == SLOT_1 {
            match self.fail_slot1_after.load(Ordering::SeqCst) {
                usize::MAX => {}
                0 => {
                    self.fail_slot1_after.store(usize::MAX, Ordering::SeqCst);
                    return Err(io::Error::from_raw_os_error(libc::EIO));
                }
                left => self.fail_slot1_after.store(left - 1, Ordering::SeqCst),
            }
        }
        below.write_at(buf, offset)?;
        if offset < LOG_HDR && self.power_loss.swap(false, Ordering::SeqCst) {
            *self.image.lock().unwrap() = Some(self.dev.crash_garbling(1.0));
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        Ok(())
    }
}

#[test]
fn a_switch_whose_header_sync_and_undo_failed_then_a_reopen_that_loses_the_power_keeps_the_log() {
    const CAP: u64 = LOG_HDR + 2 * REGION_MIN;
    let log = Arc::new(FaultyStorage::new(1, FaultConfig::none()));
    let hooks = Arc::new(Device {
        dev: log.clone(),
        fail_slot1_after: AtomicUsize::new(usize::MAX),
        power_loss: AtomicBool::new(false),
        image: Mutex::new(None),
    });
    let wal = TreeWal::open_storage_with_capacity(Hooked::new(log.clone(), hooks.clone()), CAP).unwrap();
    let ends: Vec<u64> = (0..120)
        .map(|i| {
            let key = format!("key{i:05}");
            wal.append(&[Op::Put {
                page: 3,
                key: key.as_bytes(),
                val: &[i as u8; 600],
            }])
            .unwrap()
        })
        .collect();
    wal.commit().unwrap();
    // The switch (the region in force is past half full): its records' fsync, then its slot (at 4096) and that
    // slot's fsync, which fails; the undo's write at 4096 fails too.
    let syncs = log.counts().syncs;
    log.inject_nth(IoOp::Sync, syncs + 2, Fault::Eio);
    hooks.fail_slot1_after.store(1, Ordering::SeqCst);
    assert!(
        wal.truncate_before(ends[99]).is_err(),
        "the switch's header fsync failed"
    );
    assert_eq!(log.counts().sync_eio, 1, "the failed fsync is the switch's header's");
    assert_eq!(wal.switches(), 0, "the switch did not complete");
    drop(wal);
    assert_ne!(
        &log.live_image()[SLOT_1 as usize..][..8],
        &log.durable_image()[SLOT_1 as usize..][..8],
        "the precondition: the switch's slot reads (cached) and is not on the device"
    );
    // The same process opens the log again; the power fails at its slot write.
    hooks.power_loss.store(true, Ordering::SeqCst);
    let reopen = TreeWal::open_storage_with_capacity(Hooked::new(log.clone(), hooks.clone()), CAP);
    assert!(reopen.is_err(), "the power loss failed the open");
    let image = hooks
        .image
        .lock()
        .unwrap()
        .take()
        .expect("the open wrote a header slot");
    let wal = TreeWal::open_storage_with_capacity(FaultyStorage::from_image(9, FaultConfig::none(), image), CAP)
        .unwrap_or_else(|e| panic!("R43-O5: the log does not open: {e}"));
    let got = puts(&wal);
    let lost: Vec<u32> = (0..120).filter(|k| !got.contains(k)).collect();
    assert!(
        lost.is_empty(),
        "R43-O5: committed records {lost:?} are gone (the log reads {} records)",
        got.len()
    );
}
