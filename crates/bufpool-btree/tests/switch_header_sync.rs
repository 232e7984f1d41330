//! L42-1: a bounded log's switch whose header fsync failed, then an open of the same storage in the same
//! process (a retried open, as the B+tree model's reopen attempts, or an engine that reopens after the error).
//!
//! The failed fsync dropped the header slot's write from what the device will keep (Linux keeps the page
//! cached, marked clean; `FaultyStorage` keeps it in the live image only), but reads still return it. The open
//! takes the slot with the higher sequence number as the one in force: the new region. R39-2 made the open write
//! again and sync the records it read (readable is not durable), but not the slot that names where they are.
//! Commits then went to the new region and were acknowledged; after a power loss the durable slot named the old
//! region, whose records end where the switch began: every commit since was lost, and pages written at those
//! LSNs were past the end of the log ("page 0 has LSN X, beyond the end of the log (Y)", L41-2).

use std::sync::Arc;

use bufpool::storage::{Fault, FaultConfig, FaultyStorage, Op as IoOp};
use bufpool_btree::{OwnedOp, TreeWal, REGION_MIN};

/// The smallest capacity: two regions of `REGION_MIN` (128 KiB) after the 1 KiB header.
const CAP: u64 = 8192 + 2 * REGION_MIN;

fn append(wal: &TreeWal, n: u32) -> u64 {
    let mut val = n.to_le_bytes().to_vec();
    val.resize(1000, n as u8);
    wal.append(&[bufpool_btree::Op::Put {
        page: 1,
        key: &n.to_le_bytes(),
        val: &val,
    }])
    .unwrap()
}

/// The keys of the records a log holds from its start, with each record's end.
fn keys(wal: &TreeWal) -> Vec<(u64, u32)> {
    let mut out = Vec::new();
    wal.scan(|end, ops| {
        for op in ops {
            if let OwnedOp::Put(_, k, _) = op {
                out.push((end, u32::from_le_bytes(k[..4].try_into().unwrap())));
            }
        }
        Ok(())
    })
    .unwrap();
    out
}

/// A bounded log on `log` with 70 committed records (their ends returned), cut at the 60th's end by a switch
/// whose header slot's fsync fails: the log is failed, the slot readable.
fn switch_failed_at_its_header_sync(log: &Arc<FaultyStorage>) -> (Arc<TreeWal>, Vec<u64>) {
    let wal = TreeWal::open_storage_with_capacity(log.clone(), CAP).unwrap();
    let ends: Vec<u64> = (0..70u32).map(|n| append(&wal, n)).collect();
    wal.commit().unwrap();
    // Past half the region: the cut switches. Its syncs: the new region's records, then its header slot.
    let syncs = log.counts().syncs;
    log.inject_nth(IoOp::Sync, syncs + 2, Fault::Eio);
    let cut = wal.truncate_before(ends[59]);
    assert!(cut.is_err(), "the switch's header sync was to fail: {cut:?}");
    assert_eq!(log.counts().sync_eio, 1, "the injected fault did not fire where meant");
    (wal, ends)
}

#[test]
fn commits_after_a_reopen_that_followed_a_failed_switch_header_sync_survive_a_power_loss() {
    let log = Arc::new(FaultyStorage::new(1, FaultConfig::none()));
    drop(switch_failed_at_its_header_sync(&log));
    // The same process opens the log again on the same device (the slot's write is still readable).
    let wal = TreeWal::open_storage_with_capacity(log.clone(), CAP).unwrap();
    let before = keys(&wal);
    assert!(
        before.iter().any(|&(_, n)| n == 69),
        "the committed records before the reopen: {before:?}"
    );
    let acknowledged: Vec<(u64, u32)> = (100..110u32).map(|n| (append(&wal, n), n)).collect();
    wal.commit().unwrap();
    assert!(wal.durable_lsn() >= acknowledged.last().unwrap().0);
    drop(wal);
    // A power loss: only what was synced is left.
    let after = FaultyStorage::from_image(2, FaultConfig::none(), log.durable_image());
    let wal = TreeWal::open_storage_with_capacity(after, CAP).unwrap();
    let got = keys(&wal);
    for (end, n) in &acknowledged {
        assert!(
            got.contains(&(*end, *n)),
            "record {n} (ending at LSN {end}) was committed after the reopen and is gone after a power loss: the \
             log reads {} records, ending at LSN {} (start {})",
            got.len(),
            wal.end_lsn(),
            wal.start_lsn()
        );
    }
}

/// L42-2: a log that a switch failed after writing its header slot (its fsync failed: the log is failed, its
/// records durable in the new region, the slot readable there) must write nothing more. A later cut ran the next
/// switch's first steps before it looked at the failure: the copy of the old region's tail and the zeroing of
/// the region not in force, as the failed log's memory had it, which is the region the readable slot names. A
/// restart (every write kept) then read that slot and found no record at its start: every commit since the
/// switch's redo point lost, and the pages written at their LSNs past the end of the log (L41-2's signature).
#[test]
fn a_log_failed_by_its_switchs_header_sync_writes_nothing_more() {
    let log = Arc::new(FaultyStorage::new(1, FaultConfig::none()));
    let (wal, ends) = switch_failed_at_its_header_sync(&log);
    let image = log.live_image();
    // Another cut of the failed log (a checkpoint's: its pages need no flush past what is durable).
    let again = wal.truncate_before(ends[65]);
    assert!(again.is_err(), "a failed log took a cut: {again:?}");
    assert!(
        log.live_image() == image,
        "the failed log wrote to its storage again ({again:?})"
    );
    drop(wal);
    // A restart: every write kept.
    let wal =
        TreeWal::open_storage_with_capacity(FaultyStorage::from_image(2, FaultConfig::none(), log.live_image()), CAP)
            .unwrap();
    let got = keys(&wal);
    for (n, &end) in ends.iter().enumerate().skip(60) {
        assert!(
            got.contains(&(end, n as u32)),
            "committed record {n} (ending at LSN {end}) is gone after a restart: the log reads {} records from \
             LSN {}, ending at {}",
            got.len(),
            wal.start_lsn(),
            wal.end_lsn()
        );
    }
}
