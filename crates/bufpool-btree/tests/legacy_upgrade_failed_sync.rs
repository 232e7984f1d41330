//! R42-3: the open's rewrite of a legacy log header (`upgrade_header`, `wal.rs`' module docs, "The format
//! version") whose last fsync failed, then an open of the same storage in the same process.
//!
//! The upgrade writes the slot not in force in this build's layout (synced), then the slot in force (synced). If
//! that second fsync fails, the open fails, and the second slot's write stays readable (Linux keeps the page
//! cached, marked clean; `FaultyStorage` keeps it in the live image only) without being durable. The next open in
//! the same process read both slots in this build's layout, took the log for upgraded and appended records of this
//! build; a power loss then brought back the legacy slot, which an older build reads: it would take the log's
//! records of this build for its torn end and cut them (L41-O1), which is what the upgrade is there to prevent
//! ("after it neither slot is one an older build reads").

use std::sync::Arc;

use bufpool::storage::{Fault, FaultConfig, FaultyStorage, Op as IoOp, Storage};
use bufpool_btree::{Op, TreeWal};

use crate::log_format_version::{legacy, sectors_layout, SLOT_AT};

/// The first bytes at each place a header slot of either layout lies (0, 512, 4096; zeros past the end).
fn slots(image: &[u8]) -> [[u8; 8]; 3] {
    [0usize, 512, 4096].map(|at| {
        let mut b = [0u8; 8];
        let got = image.get(at..(at + 8).min(image.len())).unwrap_or(&[]);
        b[..got.len()].copy_from_slice(got);
        b
    })
}

fn put(wal: &TreeWal, i: u32) {
    wal.append(&[Op::Put {
        page: 3,
        key: format!("key{i:05}").as_bytes(),
        val: b"value",
    }])
    .unwrap();
}

/// A log of `n` committed puts after a cut record (both slots valid), both slots then made legacy, durably: a log
/// of the layout before session 44 (slots at 0 and 512, records from 1024), `capacity` its capacity if bounded.
/// Unbounded, its records lie in the first 4 KiB block (an open moves it to the block layout); bounded, it stays.
pub(crate) fn legacy_log(capacity: Option<u64>) -> Arc<FaultyStorage> {
    legacy_log_of(capacity, 100, 0)
}

/// [`legacy_log`] of `puts` puts after a cut record of `dead` bytes of value (0: a `DEL`): unbounded, 60 puts lie
/// in the first 4 KiB block, 100 cross into the second; with `dead` of 8 KiB, the log's start lies past both.
pub(crate) fn legacy_log_of(capacity: Option<u64>, puts: u32, dead: usize) -> Arc<FaultyStorage> {
    let made = Arc::new(FaultyStorage::new(1, FaultConfig::none()));
    {
        // Made in this build's layout, whose header region is 7,168 bytes longer, then moved.
        let wal = match capacity {
            Some(c) => TreeWal::open_storage_with_capacity(made.clone(), c + 7168).unwrap(),
            None => TreeWal::open_storage(made.clone()).unwrap(),
        };
        let dead = match dead {
            0 => wal.append(&[Op::Del { page: 3, key: b"dead" }]).unwrap(),
            len => wal
                .append(&[Op::Put {
                    page: 3,
                    key: b"key99999",
                    val: &vec![9; len],
                }])
                .unwrap(),
        };
        for i in 0..puts {
            put(&wal, i);
        }
        wal.commit().unwrap();
        wal.truncate_before(dead).unwrap();
    }
    let log = Arc::new(FaultyStorage::from_image(
        1,
        FaultConfig::none(),
        sectors_layout(&made.live_image()),
    ));
    let image = log.live_image();
    for at in SLOT_AT {
        let at = at as usize;
        let s: [u8; 128] = image[at..at + 128].try_into().unwrap();
        log.write_at(&legacy(&s), at as u64).unwrap();
    }
    log.sync().unwrap();
    assert!(slots(&log.durable_image())[..2]
        .iter()
        .all(|s| s.starts_with(b"BPTWAL0") && s != b"BPTWAL04"));
    log
}

#[test]
fn a_legacy_header_upgrade_whose_last_fsync_failed_is_finished_by_a_reopen_in_the_same_process() {
    for capacity in [None, Some(1024 + 2 * (256u64 << 10))] {
        let log = legacy_log(capacity);
        // How many fsyncs an open of this log makes: the upgrade's second slot's is the last.
        let trial = Arc::new(FaultyStorage::from_image(2, FaultConfig::none(), log.live_image()));
        drop(TreeWal::open_storage(trial.clone()).unwrap());
        let at_open = trial.counts().syncs;
        let base = log.counts().syncs;
        log.inject_nth(IoOp::Sync, base + at_open, Fault::Eio);
        let failed = TreeWal::open_storage(log.clone());
        assert!(failed.is_err(), "the upgrade's last fsync was to fail the open");
        assert_eq!(log.counts().sync_eio, 1, "the injected fault did not fire where meant");
        // Since R43-1 the failed slot write's old bytes are written back: what is read is what the device holds
        // (until then the slot read in this build's layout, legacy on the device).
        assert_eq!(
            slots(&log.live_image()),
            slots(&log.durable_image()),
            "after the failed fsync the slots read are not the device's"
        );
        // The same process opens the log again on the same device and appends records of this build.
        let wal = TreeWal::open_storage(log.clone()).unwrap();
        for i in 100..110 {
            put(&wal, i);
        }
        wal.commit().unwrap();
        drop(wal);
        // A power loss: only what was synced is left.
        let durable = slots(&log.durable_image());
        assert!(
            durable[..2].iter().all(|s| s != b"BPTWAL02" && s != b"BPTWAL03"),
            "capacity {capacity:?}: after a reopen in the same process, commits of this build and a power loss, the \
             log's header slots read {:?}: a legacy slot an older build opens, and cuts at this build's records",
            durable.map(|s| String::from_utf8_lossy(&s).into_owned())
        );
    }
}
