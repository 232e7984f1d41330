//! A crash in the middle of a checkpoint's log cut, on a tree whose data device dropped one write of the
//! checkpoint (review23, R23-1 in RELIABILITY.md).
//!
//! The cut (`TreeWal::truncate_before`, its header-slot form) writes the new header slot naming the redo point and
//! the buffered records after it, which hold the checkpoint's `WRITTEN` notes (`Tree::note_cut`: the LSN each page
//! whose records the cut drops must be read back at), and syncs. A crash before that sync completes may keep any
//! subset of those sectors. If it keeps the header but not the notes, the log starts at the redo point with no
//! note: a write of the checkpoint that the device dropped is read back, after the restart, as valid, and the
//! committed change it held is lost without an error. Here the log device keeps exactly that subset (its header
//! sectors, not the records written after them, and the process dies in the sync), and the data device drops the
//! checkpoint's write of one leaf. Every key must read its committed value, or fail naming that leaf
//! (`Corrupt { StaleWrite }`); on main (the header and the notes under one fsync) a key of the leaf read its
//! previous value, no error.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;

use bufpool::storage::{MemoryStorage, Storage};
use bufpool::{CorruptReason, PageNo};
use bufpool_btree::{Error, LeafHint, Tree, TreeWal};

use crate::common::hooked::{DropsWrites, Hooked, Hooks};
use crate::common::{self, key, value};

const PAGE: u64 = 4096;
/// The log's header (its two slots), `wal.rs`'s `LOG_HDR`: records start past it.
const LOG_HDR: u64 = 8192;

/// The log device, honest until armed. Armed, once a header slot is written (below `LOG_HDR`), every later
/// write past the header is lost (the power went before those sectors reached the medium) and the next sync
/// fails (the process dies in it): the crash image keeps the header slot and what was synced before. Every write
/// after that sync is lost too (since R43-1 the failed cut writes its slot's old bytes back, which a process that
/// died in the sync never does).
struct CrashAfterHeader {
    armed: Arc<AtomicBool>,
    header_written: AtomicBool,
    power_lost: AtomicBool,
    lost: Arc<AtomicU64>,
}

impl Hooks for CrashAfterHeader {
    fn write(&self, below: &dyn Storage, buf: &[u8], offset: u64) -> std::io::Result<()> {
        if self.power_lost.load(SeqCst) {
            self.lost.fetch_add(buf.len() as u64, SeqCst);
            return Ok(());
        }
        if self.armed.load(SeqCst) {
            if offset < LOG_HDR {
                self.header_written.store(true, SeqCst);
            } else if self.header_written.load(SeqCst) {
                self.lost.fetch_add(buf.len() as u64, SeqCst);
                return Ok(());
            }
        }
        below.write_at(buf, offset)
    }
    fn sync(&self, below: &dyn Storage) -> std::io::Result<()> {
        if self.armed.load(SeqCst) && self.header_written.load(SeqCst) {
            self.power_lost.store(true, SeqCst);
            return Err(std::io::Error::other("power lost during the sync"));
        }
        below.sync()
    }
}

/// The leaf holding `k` now.
fn leaf_of(tree: &Tree, k: &[u8]) -> PageNo {
    let mut hint = LeafHint::default();
    tree.get_hinted(k, &mut hint, |_| ()).unwrap();
    hint.page().expect("a lookup names its leaf")
}

#[test]
fn a_crash_between_the_cuts_header_and_its_notes_never_serves_a_dropped_write() {
    let (data, log) = (Arc::new(MemoryStorage::new()), Arc::new(MemoryStorage::new()));
    let drop_at = Arc::new(AtomicU64::new(u64::MAX));
    let dropped = Arc::new(AtomicU64::new(0));
    let armed = Arc::new(AtomicBool::new(false));
    let lost = Arc::new(AtomicU64::new(0));
    let mut model = BTreeMap::new();
    let leaf;
    let images;
    {
        let pool = Arc::new(common::pool_builder().frames(1024).build().unwrap());
        let wal = TreeWal::open_storage(Hooked::new(
            log.clone(),
            CrashAfterHeader {
                armed: armed.clone(),
                header_written: AtomicBool::new(false),
                power_lost: AtomicBool::new(false),
                lost: lost.clone(),
            },
        ))
        .unwrap();
        let tree = Tree::open_storage(
            pool,
            wal,
            // Unbound, as the crash image the restart opens (`MemoryStorage::from_bytes`: no record).
            Hooked::unbound(
                data.clone(),
                DropsWrites {
                    at: drop_at.clone(),
                    dropped: dropped.clone(),
                },
            ),
        )
        .unwrap();
        for id in 0..3000 {
            tree.put(&key(id), &value(id, 1)).unwrap();
            model.insert(id, 1);
        }
        tree.commit().unwrap();
        tree.checkpoint().unwrap();
        // One leaf's keys change and are committed; the device drops the checkpoint's write of the leaf.
        leaf = leaf_of(&tree, &key(1500));
        drop_at.store(leaf as u64 * PAGE, SeqCst);
        for (&id, ver) in model.iter_mut() {
            if leaf_of(&tree, &key(id)) == leaf {
                tree.put(&key(id), &value(id, 2)).unwrap();
                *ver = 2;
            }
        }
        tree.commit().unwrap();
        armed.store(true, SeqCst);
        let cut = tree.checkpoint();
        assert!(
            cut.is_err(),
            "the log's sync after the cut's header did not fail: the crash was not reached"
        );
        assert!(dropped.load(SeqCst) > 0, "the checkpoint did not write the leaf");
        // The process dies here: the crash images are what the devices hold now.
        images = (data.snapshot(), log.snapshot());
        drop(tree);
    }
    // The restart, on the crash images, with honest devices.
    let pool = Arc::new(common::pool_builder().frames(1024).build().unwrap());
    let wal = TreeWal::open_storage(MemoryStorage::from_bytes(images.1)).unwrap();
    let tree = match Tree::open_storage(pool, wal, MemoryStorage::from_bytes(images.0)) {
        // Refusing the open naming the leaf is right too.
        Err(Error::StalePage { page, .. }) if page.page_no() == leaf => return,
        t => t.unwrap(),
    };
    let mut stale = 0;
    for (&id, &ver) in &model {
        match tree.get(&key(id)) {
            Ok(v) => assert!(
                v == Some(value(id, ver)),
                "key {id} (committed at version {ver}, in the dropped leaf {leaf}: {}) read another value, no error",
                ver == 2
            ),
            Err(Error::Pool(bufpool::Error::Corrupt {
                page,
                reason: CorruptReason::StaleWrite { .. },
            })) if page.page_no() == leaf => stale += 1,
            Err(e) => panic!("key {id}: {e}"),
        }
    }
    assert!(stale > 0, "no key of the dropped leaf failed");
}
