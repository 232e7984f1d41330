//! Recovery over a log whose records name pages far past the data file's end (replay40, R40-30 in
//! RELIABILITY.md; review40's R40-O20).
//!
//! Replay adds the pages a record names past the file's end, zeroed, one at a time (`BufferPool::new_page`). A log
//! a layer above filled through `TreeWal::append` (a standalone log, which names no data file), handed to
//! `Tree::open`, named page `u32::MAX` or `u32::MAX - 1`, and the open added pages towards four billion: a probe
//! ran 100 s, writing evicted zeroed pages, and was killed. A crashed tree's log names pages past the end only
//! in a new page's full image, and only a few pages past the pages replay has filled so far, or as many more as
//! bulk loads announced in `TAKING` notes before it (`Tree::check_growth`; R41-20: a load lost to a power loss
//! beside a durable split), so anything else is refused with `LogMismatch`, naming the page and the LSN, before
//! the file grows. The refusals run in a thread watched from the test (a hang fails the test after 60 s instead of
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
    let cases = cases.map(|(what, page, op)| (what, page, vec![op]));
    // A bulk load's note (R41-20) makes room for the pages it announces, and no more: one naming `u32::MAX` pages
    // counts as a load's 256.
    let noted = |pages: u32, page: u32| vec![Op::Taking { page: 0, pages }, Op::Image { page, bytes: &image }];
    let notes = [
        (
            "a note of u32::MAX pages, image of page u32::MAX - 1",
            u32::MAX - 1,
            noted(u32::MAX, u32::MAX - 1),
        ),
        ("a note of 256 pages, image of page end + 1281", 1281, noted(256, 1281)),
    ];
    for (what, page, ops) in cases.into_iter().chain(notes) {
        let dir = tempfile::tempdir().unwrap();
        let opened = open_over(dir.path(), &ops);
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

/// A bulk load's note (R41-20) makes room for its pages: an image 1,280 pages past an empty data file's end after
/// a note of 256 pages replays (the open then refuses page 0 as no meta page, `BadMeta`). Without the note (on
/// main) it is refused: `LogMismatch`, "replay would leave 1280 zeroed pages".
#[test]
fn a_bulk_loads_note_makes_room_for_its_pages() {
    let dir = tempfile::tempdir().unwrap();
    let image = vec![0u8; PAGE - bufpool::PAGE_HEADER_SIZE];
    let opened = open_over(
        dir.path(),
        &[
            Op::Taking { page: 0, pages: 256 },
            Op::Image {
                page: 1280,
                bytes: &image,
            },
        ],
    );
    match opened {
        Err(Error::BadMeta(_)) => {}
        other => panic!("the open returned {other:?}, not BadMeta after a whole replay"),
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

/// R40-O30 (R41-20): a bulk load larger than the budget, its pages lost to a power loss before its switch, beside
/// a concurrent structure change whose record was durable. The load takes about 1,500 pages at the data file's end
/// and the pool (64 frames) writes most of them unsynced; in the middle of its input a put splits a leaf of the
/// tree below the load, whose new page comes after the load's, and commits (its record durable); then the power
/// goes, every unsynced write lost. The split's image lies about 1,500 pages past the recovered file's end, all of
/// them the load's, zeroed: a valid log, which the open must replay (the tree as before the load, with the put).
/// On main `check_growth` refused it (`LogMismatch`: "replay would leave ... zeroed pages ... more than the 1024 a
/// crashed tree's log can need").
#[test]
fn a_bulk_load_lost_to_a_power_loss_beside_a_durable_split_recovers() {
    use bufpool::storage::{FaultConfig, FaultyStorage};
    const BEFORE: u64 = 200;
    const LOADED: u64 = 4_500;
    let log = Arc::new(FaultyStorage::new(41, FaultConfig::none()));
    let data = Arc::new(FaultyStorage::new(42, FaultConfig::none()));
    let pool = || Arc::new(common::pool_builder().frames(FRAMES).page_size(PAGE).build().unwrap());
    // Below every loaded key: the load appends (its keys' prefix is above the common keys' `k` padding).
    let load_key = |i: u64| {
        let mut k = b"z".to_vec();
        k.extend_from_slice(&i.to_be_bytes());
        k
    };
    let mut pages_at_split = 0;
    let mut crashed = None;
    {
        let wal = TreeWal::open_storage(log.clone()).unwrap();
        let tree = Tree::create_storage(pool(), wal, data.clone()).unwrap();
        for id in 0..BEFORE {
            tree.put(&key(id), &value(id, 1)).unwrap();
        }
        tree.commit().unwrap();
        tree.checkpoint().unwrap();
        let tree = &tree;
        let pairs = (0..LOADED).map(|i| {
            if i == LOADED - 100 {
                // The concurrent change, while the load holds no latch: puts that split a leaf below the load's
                // keys (its new page comes after the load's pages), committed; then the power loss.
                let before = tree.check().unwrap().leaves;
                let mut id = BEFORE;
                while tree.check().unwrap().leaves == before {
                    tree.put(&key(id), &common::sized_value(id, 2, 900)).unwrap();
                    id += 1;
                }
                tree.commit().unwrap();
                pages_at_split = tree.pool().file_pages(tree.file()).unwrap();
                crashed = Some((log.crash(), data.crash()));
            }
            (load_key(i), common::sized_value(i, 3, 1000))
        });
        // After the power loss every call of the storages fails: the load's result does not matter.
        let _ = tree.bulk_load(pairs);
    }
    let (log_image, data_image) = crashed.expect("the load's input reached the power loss");
    let on_disk = (data_image.len() / PAGE) as u32;
    assert!(
        pages_at_split > on_disk + 1024,
        "the split's page ({pages_at_split} pages in the file then) is not more than 1,024 pages past the file's end \
         after the power loss ({on_disk} pages): the test does not reach the case"
    );
    let log = Arc::new(FaultyStorage::from_image(43, FaultConfig::none(), log_image));
    let data = Arc::new(FaultyStorage::from_image(44, FaultConfig::none(), data_image));
    let wal = TreeWal::open_storage(log).unwrap();
    let tree = Tree::open_storage(pool(), wal, data).unwrap_or_else(|e| {
        panic!(
            "recovery after a bulk load lost to a power loss beside a durable split ({pages_at_split} pages in the \
             file at the split, {on_disk} on disk after the power loss) was refused: {e}"
        )
    });
    tree.check().unwrap();
    for id in 0..BEFORE {
        assert_eq!(tree.get(&key(id)).unwrap(), Some(value(id, 1)), "key {id}");
    }
    assert_eq!(
        tree.get(&load_key(0)).unwrap(),
        None,
        "the load's switch never happened"
    );
    // The tree goes on: the load again, in full.
    assert_eq!(
        tree.bulk_load((0..100).map(|i| (load_key(i), vec![i as u8; 10])))
            .unwrap(),
        100
    );
    tree.check().unwrap();
}
