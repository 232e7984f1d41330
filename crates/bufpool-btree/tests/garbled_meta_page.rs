//! A power loss that garbles a data page's 4 KiB block in flight (`FaultyStorage::crash_garbling_blocks`: a device
//! that does not write a block atomically, the model review44 adopted for the log) can destroy page 0's bufpool
//! header, its magic included. R28-1's check before replay took page 0 for torn (to be rebuilt by replay from its
//! logged image) only if the magic survived and its checksum failed; a garbled meta page was refused as a foreign
//! file, "page 0 is not a tree's meta page (not a bufpool page (magic ..)): not a tree's data file", though the log
//! held the page's image (the meta page is logged whole at each change, and a checkpoint logs it after its redo
//! point): the tree no longer opened (R46-O41, fixed as R47-1 in RELIABILITY.md).
//!
//! Now a page 0 with no bufpool header is replayed when the log names the data file by its record's identity
//! (the sidecar `.bpmeta` of a file opened by path: here a second `FaultyStorage`, `common::Sidecar`) and holds
//! the page's image; a data file without a record cannot be told from a foreign one so, and is still refused
//! (nothing replayed or written). The power loss here strikes at the checkpoint's data fsync, every block its
//! page writes put in flight garbled (`crash_garbling_blocks(1.0)`); the log's records and the record were synced
//! before it.

use crate::common;

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bufpool::storage::{FaultConfig, FaultyStorage, RecordStore, Storage};
use bufpool::{BufferPool, CorruptReason, PageId};
use bufpool_btree::{Error, Tree, TreeWal};
use common::hooked::{Hooked, Hooks};
use common::{key, value, Sidecar};

const KEYS: u64 = 300;

/// What a power loss left: the data file's pages, its record, the log.
struct Images {
    pages: Vec<u8>,
    record: Vec<u8>,
    log: Vec<u8>,
}

/// A tree's devices: the data file's pages and record, the log; and, once armed, a power loss at the data file's
/// next sync, before it: every block written since the last sync garbled, the record and the log as synced.
struct Devices {
    pages: Arc<FaultyStorage>,
    record: Sidecar,
    log: Arc<FaultyStorage>,
    /// Whether the data file has its record (else it is unbound: no identity for the log to name).
    bound: bool,
    armed: AtomicBool,
    lost: Mutex<Option<Images>>,
}

impl Devices {
    fn new(bound: bool) -> Arc<Devices> {
        Devices::from(
            bound,
            Images {
                pages: Vec::new(),
                record: Vec::new(),
                log: Vec::new(),
            },
        )
    }

    fn from(bound: bool, images: Images) -> Arc<Devices> {
        let dev = |seed, image| Arc::new(FaultyStorage::from_image(seed, FaultConfig::none(), image));
        Arc::new(Devices {
            pages: dev(1, images.pages),
            record: Sidecar(dev(2, images.record)),
            log: dev(3, images.log),
            bound,
            armed: AtomicBool::new(false),
            lost: Mutex::new(None),
        })
    }

    fn open(self: &Arc<Self>) -> Result<Tree, Error> {
        let pool = Arc::new(BufferPool::builder().frames(64).page_size(4096).build().unwrap());
        let wal = TreeWal::open_storage(self.log.clone())?;
        let data = match self.bound {
            true => Hooked::new(self.pages.clone(), self.clone()),
            false => Hooked::unbound(self.pages.clone(), self.clone()),
        };
        Tree::open_storage(pool, wal, data)
    }

    /// What the power loss left, as fresh devices.
    fn after_power_loss(&self) -> Arc<Devices> {
        let images = self.lost.lock().unwrap().take().expect("no power loss struck");
        Devices::from(self.bound, images)
    }
}

impl Hooks for Devices {
    fn sync(&self, below: &dyn Storage) -> io::Result<()> {
        if self.armed.swap(false, Ordering::AcqRel) {
            *self.lost.lock().unwrap() = Some(Images {
                pages: self.pages.crash_garbling_blocks(1.0),
                record: self.record.0.crash(),
                log: self.log.crash(),
            });
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        below.sync()
    }
    fn record_store<'a>(&'a self, _: &'a dyn Storage) -> Option<&'a dyn RecordStore> {
        Some(&self.record)
    }
}

/// Keys `0..KEYS` put and committed, with a checkpoint after the first `checkpointed` of them (the log then cut
/// there, page 0's image logged after its redo point); then a checkpoint whose data fsync the power loss strikes.
fn a_checkpoint_struck_by_a_power_loss(bound: bool, checkpointed: u64) -> Arc<Devices> {
    let dev = Devices::new(bound);
    let tree = dev.open().unwrap();
    for id in 0..KEYS {
        tree.put(&key(id), &value(id, 1)).unwrap();
        if id + 1 == checkpointed {
            tree.commit().unwrap();
            tree.checkpoint().unwrap();
        }
    }
    tree.commit().unwrap();
    dev.armed.store(true, Ordering::Release);
    assert!(
        tree.checkpoint().is_err(),
        "the checkpoint the power loss struck succeeded"
    );
    drop(tree);
    let lost = dev.after_power_loss();
    // The case this is about: page 0 on the device is no bufpool page at all (not merely torn).
    let pool = BufferPool::builder().frames(8).page_size(4096).build().unwrap();
    let copy = FaultyStorage::from_image(9, FaultConfig::none(), lost.pages.durable_image());
    let file = pool.open_storage(copy).unwrap();
    match pool.read(PageId::new(file, 0)) {
        Err(bufpool::Error::Corrupt {
            reason: CorruptReason::BadMagic { .. },
            ..
        }) => {}
        other => panic!(
            "page 0 after the power loss reads {:?}, not as garbled",
            other.map(|_| ())
        ),
    }
    lost
}

fn holds_every_key(dev: &Arc<Devices>, what: &str) {
    let tree = dev
        .open()
        .unwrap_or_else(|e| panic!("{what}: the reopen after the power loss: {e}"));
    for id in 0..KEYS {
        assert_eq!(tree.get(&key(id)).unwrap(), Some(value(id, 1)), "{what}: key {id}");
    }
    assert_eq!(tree.check().unwrap().entries, KEYS as usize, "{what}: entries");
    tree.close().unwrap();
    // And again, from what the reopen wrote.
    let tree = dev.open().unwrap_or_else(|e| panic!("{what}: the second reopen: {e}"));
    assert_eq!(
        tree.check().unwrap().entries,
        KEYS as usize,
        "{what}: entries at the second reopen"
    );
}

/// The tree's first checkpoint: its log holds every record since the tree was made, page 0's first image among them.
#[test]
fn a_meta_page_garbled_at_the_first_checkpoint_is_rebuilt_from_the_log() {
    let lost = a_checkpoint_struck_by_a_power_loss(true, 0);
    holds_every_key(&lost, "garbled at the first checkpoint");
}

/// After a checkpoint that cut the log: what is left of it starts at that checkpoint's redo point, after which
/// it logged page 0's image.
#[test]
fn a_meta_page_garbled_after_a_cut_is_rebuilt_from_the_image_the_cut_kept() {
    let lost = a_checkpoint_struck_by_a_power_loss(true, KEYS / 2);
    holds_every_key(&lost, "garbled after a cut");
}

/// A data file without a record (a storage that keeps none): its log names no data file, and a page 0 with no
/// bufpool header cannot be told from another program's; refused as R28-1 refuses that, nothing written.
#[test]
fn a_garbled_meta_page_of_a_file_without_a_record_is_refused_as_not_a_trees() {
    let lost = a_checkpoint_struck_by_a_power_loss(false, KEYS / 2);
    let pages = lost.pages.live_image();
    match lost.open() {
        Err(Error::BadMeta(m)) if m.contains("not a tree's data file") => {}
        Err(e) => panic!("refused with another error: {e}"),
        Ok(_) => panic!("a file whose page 0 is no bufpool page, and whose log names no file, opened"),
    }
    assert!(lost.pages.live_image() == pages, "the refused open wrote the data file");
}
