//! R48-O10 (RELIABILITY.md, session 48, review48; fixed in session 55), R47-O1: a stale copy of a tree's data file
//! *with its record* (a backup of the file and its sidecar `.bpmeta`, restored over newer ones) whose page 0 is
//! also unreadable opened with the tree's current log and served the copy's old values, every committed change
//! since lost and `Tree::check` clean. With page 0 intact the same copy is refused (`LogMismatch`: the log starts
//! after the meta page's last checkpoint); garbled, `Tree::check_garbled_meta` pairs file and log by the record's
//! identity alone, which a copy keeps, and replay rebuilt page 0 from the log. Now each checkpoint also keeps its
//! cut point in the file's record (`BufferPool::raise_engine_mark`), and an open whose page 0 cannot speak refuses a
//! log that starts past it (`Tree::check_record_mark`). The current file with the same page 0 still opens.

use crate::common;

use std::sync::Arc;

use bufpool::storage::{FaultConfig, FaultyStorage};
use bufpool::BufferPool;
use bufpool_btree::{Error, Tree, TreeWal};
use common::hooked::Hooked;
use common::{key, value, Sidecar};

const KEYS: u64 = 300;

/// A tree on `pages` (bound to its record in `record`, as a file opened by path) and `log`.
fn open(pages: &[u8], record: &[u8], log: &[u8]) -> Result<Tree, Error> {
    let dev = |seed, image: &[u8]| Arc::new(FaultyStorage::from_image(seed, FaultConfig::none(), image.to_vec()));
    let pool = Arc::new(BufferPool::builder().frames(64).page_size(4096).build().unwrap());
    let wal = TreeWal::open_storage(dev(3, log))?;
    Tree::open_storage(pool, wal, Hooked::new(dev(1, pages), Sidecar(dev(2, record))))
}

/// Page 0 of `image` garbled whole (no bufpool header left, as a power loss during its write may leave it).
fn garble(mut image: Vec<u8>) -> Vec<u8> {
    for (i, b) in image[..4096].iter_mut().enumerate() {
        *b = (common::mix(i as u64) & 0xff) as u8;
    }
    image
}

/// Page 0 of `image` torn: its header intact, a byte of its user region changed (its checksum fails).
fn tear(mut image: Vec<u8>) -> Vec<u8> {
    image[3000] ^= 0x5a;
    image
}

#[test]
fn a_stale_copy_of_the_data_file_with_a_garbled_meta_page_is_refused() {
    let dev = |seed| Arc::new(FaultyStorage::from_image(seed, FaultConfig::none(), Vec::new()));
    let (pages, record, log) = (dev(1), dev(2), dev(3));
    let tree = Tree::open_storage(
        Arc::new(BufferPool::builder().frames(64).page_size(4096).build().unwrap()),
        TreeWal::open_storage(log.clone()).unwrap(),
        Hooked::new(pages.clone(), Sidecar(record.clone())),
    )
    .unwrap();
    for id in 0..KEYS {
        tree.put(&key(id), &value(id, 1)).unwrap();
    }
    tree.commit().unwrap();
    tree.checkpoint().unwrap();
    // The backup: the data file and its record as on the device now.
    let (copy, copy_record) = (pages.durable_image(), record.durable_image());
    for id in 0..KEYS {
        tree.put(&key(id), &value(id, 2)).unwrap();
    }
    tree.commit().unwrap();
    tree.checkpoint().unwrap();
    tree.close().unwrap(); // a second checkpoint
    let (current, current_record, log) = (pages.durable_image(), record.durable_image(), log.durable_image());
    // The copy as it is: refused by its meta page.
    assert!(matches!(open(&copy, &copy_record, &log), Err(Error::LogMismatch(_))));
    // The copy with its page 0 garbled or torn: refused by its record's mark, before anything is replayed.
    for (how, image) in [("garbled", garble(copy.clone())), ("torn", tear(copy.clone()))] {
        match open(&image, &copy_record, &log) {
            Err(Error::LogMismatch(why)) => assert!(why.contains("record"), "{how}: {why}"),
            Err(e) => panic!("{how}: refused, but not for the mark: {e}"),
            Ok(tree) => {
                let old = (0..KEYS)
                    .filter(|&id| tree.get(&key(id)).unwrap() == Some(value(id, 1)))
                    .count();
                panic!(
                    "{how}: the stale copy opened, {old} of {KEYS} keys read their value from before the last commit \
                     (check: {:?})",
                    tree.check().map(|s| s.entries)
                );
            }
        }
    }
    // The current file with the same faults of its page 0 (one fault, a power loss's): opens, every value current.
    for (how, image) in [("garbled", garble(current.clone())), ("torn", tear(current.clone()))] {
        let tree = open(&image, &current_record, &log).unwrap_or_else(|e| panic!("{how}: {e}"));
        for id in 0..KEYS {
            assert_eq!(tree.get(&key(id)).unwrap(), Some(value(id, 2)), "{how}: key {id}");
        }
        assert_eq!(tree.check().unwrap().entries, KEYS as usize, "{how}");
    }
}
