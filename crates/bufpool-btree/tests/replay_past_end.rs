//! Recovery over a log whose records name pages far past the data file's end (replay40, R40-30 in
//! RELIABILITY.md; review40's R40-O20).
//!
//! Replay adds the pages a record names past the file's end, zeroed, one at a time (`BufferPool::new_page`). A log
//! a layer above filled through `TreeWal::append` (a standalone log, which names no data file), handed to
//! `Tree::open`, named page `u32::MAX` or `u32::MAX - 1`, and the open added pages towards four billion: a probe
//! ran 100 s, writing evicted zeroed pages, and was killed. A crashed tree's log names pages past the end only
//! in a new page's full image, and only a few pages past the pages replay has filled so far (bulk loads aside:
//! `Tree::check_growth`), so anything else is refused with `LogMismatch`, naming the page and the LSN, before the
//! file grows. The refusals run in a thread watched from the test (a hang fails the test after 60 s instead of
//! stalling CI); a tree that grew well past its file's end before a crash (more new pages than the bound's
//! floor) still recovers every key.

use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use bufpool_btree::{Error, Op, Tree, TreeWal};

use crate::common::{self, key, value};

const PAGE: usize = 4096;
const FRAMES: usize = 64;
/// The most a refused open may leave the data file: far below the pages the bad records name.
const GROWN_MAX: u64 = (FRAMES * PAGE) as u64;

/// Appends `ops` as one record to a new standalone log at `dir/a.wal`, then opens a tree on it and an empty data
/// file in a thread, and returns what the open returned (or fails the test if it has not returned in 60 s).
fn open_over(dir: &Path, ops: &[Op<'_>]) -> Result<(), Error> {
    let wal_path = dir.join("a.wal");
    let wal = TreeWal::open(&wal_path).unwrap();
    wal.append(ops).unwrap();
    wal.commit().unwrap();
    drop(wal);
    let (tx, rx) = mpsc::channel();
    let data = dir.join("t.db");
    std::thread::spawn(move || {
        let pool = Arc::new(common::pool_builder().frames(FRAMES).page_size(PAGE).build().unwrap());
        let opened = TreeWal::open(&wal_path)
            .and_then(|wal| Tree::open(pool, wal, &data))
            .map(drop);
        let _ = tx.send(opened);
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("Tree::open did not return within 60 s: replay is adding pages towards the one the log names")
}

#[test]
fn a_log_naming_pages_far_past_the_file_is_refused_before_it_grows() {
    let image = vec![0u8; PAGE - bufpool::PAGE_HEADER_SIZE];
    let val = vec![7u8; 100];
    let cases: [(&str, u32, Op<'_>); 5] = [
        (
            "Del, page u32::MAX",
            u32::MAX,
            Op::Del {
                page: u32::MAX,
                key: b"k",
            },
        ),
        (
            "image, page u32::MAX",
            u32::MAX,
            Op::Image {
                page: u32::MAX,
                bytes: &image,
            },
        ),
        (
            "image, page u32::MAX - 1",
            u32::MAX - 1,
            Op::Image {
                page: u32::MAX - 1,
                bytes: &image,
            },
        ),
        // Past the least bound (1024 pages) by 1000.
        (
            "image, page end + 2024",
            2024,
            Op::Image {
                page: 2024,
                bytes: &image,
            },
        ),
        (
            "Put, page end + 1000",
            1000,
            Op::Put {
                page: 1000,
                key: b"k",
                val: &val,
            },
        ),
    ];
    for (what, page, op) in cases {
        let dir = tempfile::tempdir().unwrap();
        let opened = open_over(dir.path(), &[op]);
        let grown = std::fs::metadata(dir.path().join("t.db")).map_or(0, |m| m.len());
        match opened {
            Err(Error::LogMismatch(msg)) => assert!(
                msg.contains(&format!("page {page}")) && msg.contains("LSN"),
                "{what}: the refusal does not name the page and the LSN: {msg}"
            ),
            other => {
                panic!("{what}: the open returned {other:?}, not LogMismatch (the data file grew to {grown} bytes)")
            }
        }
        assert!(
            grown <= GROWN_MAX,
            "{what}: the refused open grew the data file to {grown} bytes (more than {GROWN_MAX})"
        );
    }
}

#[test]
fn a_tree_grown_far_past_its_file_before_a_crash_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let crashed = tempfile::tempdir().unwrap();
    const KEYS: u64 = 12_000;
    {
        // Frames for every page: nothing is evicted, so the pages made after the checkpoint reach no disk.
        let tree = common::open(dir.path(), 8192);
        for id in 0..100 {
            tree.put(&key(id), &value(id, 1)).unwrap();
        }
        tree.commit().unwrap();
        tree.checkpoint().unwrap();
        for id in 100..KEYS {
            tree.put(&key(id), &value(id, 1)).unwrap();
        }
        tree.commit().unwrap();
        let pages = tree.pool().file_pages(tree.file()).unwrap();
        // The process dies here: its files hold what it wrote (the log's commits), not its cached pages.
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), crashed.path().join(entry.file_name())).unwrap();
        }
        let on_disk = std::fs::metadata(crashed.path().join(bufpool_btree::DATA_FILE))
            .unwrap()
            .len()
            / PAGE as u64;
        assert!(
            u64::from(pages) > on_disk + 1024,
            "the tree has {pages} pages and its file {on_disk}: not grown past the file by more than 1024"
        );
        drop(tree);
    }
    let tree = common::open(crashed.path(), FRAMES);
    tree.check().unwrap();
    for id in 0..KEYS {
        assert_eq!(tree.get(&key(id)).unwrap(), Some(value(id, 1)), "key {id}");
    }
}

/// The bound is on the zeroed pages no image has filled, not on how far past the end the file grows: images that
/// fill the gap an earlier one left (a concurrent change's pages logged after a later page's) make room again.
/// Passes on main too (nothing is refused there); with the bound counting every zeroed page ever added, the last
/// image (999 pages past the end, 1,999 zeroed in all) was refused.
#[test]
fn images_that_fill_a_gap_make_room_for_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let image = vec![0u8; PAGE - bufpool::PAGE_HEADER_SIZE];
    let wal_path = dir.path().join("a.wal");
    let wal = TreeWal::open(&wal_path).unwrap();
    // Page 1,000 first (1,000 zeroed pages below it: within the least budget, 1,024), then the pages below it, then
    // page 2,000 (999 zeroed pages below it).
    let pages = std::iter::once(1000).chain(0..1000).chain(std::iter::once(2000));
    for page in pages {
        wal.append(&[Op::Image { page, bytes: &image }]).unwrap();
    }
    wal.commit().unwrap();
    drop(wal);
    let pool = Arc::new(common::pool_builder().frames(FRAMES).page_size(PAGE).build().unwrap());
    let wal = TreeWal::open(&wal_path).unwrap();
    match Tree::open(pool, wal, dir.path().join("t.db")) {
        // Replayed whole: page 0's image is no meta page.
        Err(Error::BadMeta(_)) => {}
        other => panic!(
            "the open returned {:?}, not BadMeta after a whole replay",
            other.map(drop)
        ),
    }
}
