//! A scan of a log ([`TreeWal::scan`]) that a cut overtakes must not report a log shorter than it is (R40-21 in
//! RELIABILITY.md). `scan` reads the records from the log's start as it was when the scan began, through its own
//! read-ahead and without the log's locks, so that appends and commits go on meanwhile; a cut made meanwhile (a
//! tree's checkpoint, or `truncate_before` of a log that serves no tree) punches the dead records out of the file.
//! Before the fix a scan that reached the punched bytes took their zeros for the end of the log and returned
//! `Ok` with that LSN as "the end of the valid log": below the log's new start, with every record after the hole
//! never passed to it. A caller that ships or audits a live log (a tree's, which `scan` does not refuse, while the
//! tree checkpoints) took the log for ended there. A bounded log punches nothing, but two switches while a scan
//! reads bring its region back into force, and new records overwrite the ones the scan has not read: the same.
//! Now a scan that stops before the log's start refuses with [`Error::Log`] (scan again).

use crate::common;

use bufpool_btree::{Error, TreeWal};

#[test]
fn a_scan_that_a_cut_overtakes_does_not_report_a_short_log() {
    let dir = tempfile::tempdir().unwrap();
    let wal = TreeWal::open(dir.path().join("log")).unwrap();
    // 3,000 records of about 1 KiB, 3 MiB: three times the scan's read-ahead (1 MiB), so the scan reads the
    // bytes the cut punches after the cut.
    let ends = common::append_puts(&wal, 0, 3000, 1000, 0x5a).unwrap();
    wal.commit().unwrap();
    let cut_at = ends[2499];
    let mut seen = 0;
    // The cut is made by the scan's own callback after its first record: the window held open without a sleep.
    let r = wal.scan(|_, _| {
        if seen == 0 {
            wal.truncate_before(cut_at).unwrap();
        }
        seen += 1;
        Ok(())
    });
    assert_eq!(wal.start_lsn(), cut_at, "the cut was made");
    match r {
        Ok(end) => assert_eq!(
            end, ends[2999],
            "the scan returned Ok({end}) as the end of the log, which ends at {} (its start is {cut_at} now): it \
             passed {seen} of 3,000 records and never the 500 from the new start on",
            ends[2999]
        ),
        Err(e) => assert!(matches!(e, Error::Log(_)), "refused as a log error: {e:?}"),
    }
    // A scan after the cut reads the log from the cut on.
    assert_eq!(common::record_ends(&wal), ends[2500..], "a scan after the cut");
}

/// The same on a bounded log (`open_storage_with_capacity`), whose cuts punch nothing: two switches while the
/// scan reads bring the region it reads back into force, and new records overwrite the ones it has not read yet.
#[test]
fn a_scan_that_two_switches_of_a_bounded_log_overtake_does_not_report_a_short_log() {
    let storage = std::sync::Arc::new(bufpool::MemoryStorage::new());
    // Regions of about 2 MiB: a cut switches once one is half full.
    let wal = TreeWal::open_storage_with_capacity(storage, 1 << 22).unwrap();
    let old = common::append_puts(&wal, 0, 1200, 1000, 0x5a).unwrap();
    wal.commit().unwrap();
    let mut newest = Vec::new();
    let mut seen = 0;
    let r = wal.scan(|_, _| {
        if seen == 0 {
            // A switch to the other region, 1,100 records there, a switch back: then 1,200 new records over the
            // region this scan reads, past its read-ahead.
            wal.truncate_before(wal.end_lsn()).unwrap();
            common::append_puts(&wal, 0, 1100, 1000, 0x6b).unwrap();
            wal.commit().unwrap();
            wal.truncate_before(wal.end_lsn()).unwrap();
            newest = common::append_puts(&wal, 0, 1200, 1000, 0x7c).unwrap();
            wal.commit().unwrap();
        }
        seen += 1;
        Ok(())
    });
    assert_eq!(wal.switches(), 2, "two switches");
    match r {
        Ok(end) => assert_eq!(
            end,
            *newest.last().unwrap(),
            "the scan returned Ok({end}) as the end of the log, which ends at {} (its start is {} now): it \
             passed {seen} records, the last of the first 1,200 ending at {}",
            newest.last().unwrap(),
            wal.start_lsn(),
            old.last().unwrap()
        ),
        Err(e) => assert!(matches!(e, Error::Log(_)), "refused as a log error: {e:?}"),
    }
    assert_eq!(common::record_ends(&wal), newest, "a scan after the switches");
}
