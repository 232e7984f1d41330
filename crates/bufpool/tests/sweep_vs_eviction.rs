//! L11-2 (RELIABILITY.md): `drop_file` (and `close_file`) failed with `Error::PageLatched` naming another file's
//! page, for a frame that no longer held any page of the file being dropped.
//!
//! The story: the sweep (`sweep_file`) finds a frame holding a page of the file and waits for its latch
//! (`latch_exclusive_waiting`). The latch is an evictor's: it takes the page away and reads another file's page
//! into the frame, and its read takes long (a slow device, a held storage call). The wait went on for that other
//! page's load, and after about a second the call failed with `PageLatched` naming the other file's page, which
//! the caller neither holds nor can release: nothing of the dropped file was latched any more. Now the wait looks
//! at the frame's page each round and ends, with nothing to discard, once the frame holds no page of the file.
//!
//! The schedule is forced by gates: the eviction veto stops the evictor while it holds the victim (the dropped
//! file's page) latched, and the other file's storage stops the evictor's read. A short pause lets `drop_file`
//! reach its wait before the evictor goes on. Were the pause too short, `drop_file` would first look at the frame
//! after it moved and the test would pass on the unfixed pool: it never fails a correct one.

use crate::common;

use std::io;
use std::sync::atomic::{AtomicU8, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use bufpool::storage::{MemoryStorage, Storage};
use bufpool::{BufferPool, FileId, PageId};
use common::hooked::{Hooked, Hooks};
use common::{Gate, STEP_WAIT_MAX};

/// From starting `drop_file` to its wait for the latched frame: a lookup, no I/O.
const DROP_TO_WAIT_PAUSE: Duration = Duration::from_millis(50);

const EVICTOR: &str = "evictor";

#[derive(Default)]
struct Script {
    phase: AtomicU8,
    evictor_holds_victim: Gate,
    release_evictor: Gate,
    evictor_reads: Gate,
    release_read: Gate,
}

/// Phase 0: evict anything, read anything.
const PASS: u8 = 0;
/// Phase 1: the evictor stops in the veto with its victim latched, then in its read of the other page.
const HOLD_EVICTOR: u8 = 1;

fn on_evictor(script: &Script) -> bool {
    script.phase.load(SeqCst) == HOLD_EVICTOR && std::thread::current().name() == Some(EVICTOR)
}

/// Hooks that stop a storage's reads on the evictor's thread while the script says so.
struct GatedReads(Arc<Script>);

impl Hooks for GatedReads {
    fn read(&self, below: &dyn Storage, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        if on_evictor(&self.0) {
            self.0.evictor_reads.open();
            self.0.release_read.wait("release of the evictor's read");
        }
        below.read_at(buf, offset)
    }
}

#[test]
fn drop_file_does_not_wait_for_or_name_a_frame_moved_to_another_files_page() {
    let script = Arc::new(Script::default());
    let veto_script = script.clone();
    // One frame: the evictor's miss takes the dropped file's page, and its read fills the same frame.
    let pool = Arc::new(
        BufferPool::builder()
            .frames(1)
            .eviction_veto(move |_page| {
                if on_evictor(&veto_script) {
                    veto_script.evictor_holds_victim.open();
                    veto_script.release_evictor.wait("release of the evictor");
                }
                false
            })
            .build()
            .unwrap(),
    );
    // The other file, with a page on storage, reopened: nothing of it resident.
    // Unbound, as the test was written (its storage forwarded no file record).
    let storage = Arc::new(Hooked::unbound(MemoryStorage::new(), GatedReads(script.clone())));
    let other = pool.open_storage(storage.clone()).unwrap();
    pool.new_page(other).unwrap().fill(7);
    pool.checkpoint().unwrap();
    pool.drop_file(other).unwrap();
    let other = pool.open_storage(storage).unwrap();
    let other_page = PageId::new(other, 0);

    // The file to drop, its page in the pool's one frame (clean: the evictor writes nothing).
    let dropped: FileId = pool.open_storage(MemoryStorage::new()).unwrap();
    pool.new_page(dropped).unwrap().fill(1);
    pool.checkpoint().unwrap();
    assert_eq!(pool.stats().resident, 1);

    // The evictor's miss latches the dropped file's page as its victim and stops in the veto.
    script.phase.store(HOLD_EVICTOR, SeqCst);
    let evictor = {
        let pool = pool.clone();
        std::thread::Builder::new()
            .name(EVICTOR.into())
            .spawn(move || pool.read(other_page).map(|g| g[0]))
            .unwrap()
    };
    script.evictor_holds_victim.wait("the evictor holding the victim");

    // drop_file finds the frame holding its page and waits for the evictor's latch.
    let (tx, rx) = mpsc::channel();
    {
        let pool = pool.clone();
        std::thread::Builder::new()
            .name("dropper".into())
            .spawn(move || tx.send(pool.drop_file(dropped)).unwrap())
            .unwrap();
    }
    std::thread::sleep(DROP_TO_WAIT_PAUSE);

    // The evictor takes the page away and reads the other file's page into the frame, where its read stops
    // (for longer than `drop_file` waits for a latch: until drop_file has returned).
    script.release_evictor.open();
    script
        .evictor_reads
        .wait("the evictor reading the other page into the frame");
    script.phase.store(PASS, SeqCst);

    // Nothing of the dropped file is latched (or resident) now: the drop succeeds, without waiting for the
    // other file's load. Before the fix: after about a second, `PageLatched` naming the other file's page.
    let dropped_result = rx.recv_timeout(STEP_WAIT_MAX).expect("drop_file returned");
    script.release_read.open();
    assert_eq!(evictor.join().unwrap().unwrap(), 7);
    assert!(
        dropped_result.is_ok(),
        "drop_file of a file with nothing latched: {dropped_result:?} (the latched frame holds {other_page})"
    );
    assert!(
        pool.stats().files.iter().all(|s| s.file != dropped),
        "the dropped file is closed"
    );
}
