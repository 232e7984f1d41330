//! An open by path opens the data file, then takes its lock, waiting up to two seconds for another opener's
//! (`BufferPool::lock_storage`). Until R46-1 it never asked, once it held the lock, whether the path still led to
//! the file it had locked: a file replaced under the name meanwhile (a backup restored by a rename, a file started
//! over with `storage::remove_data_file` and opened anew) while its holder had it, then released by the holder,
//! was locked and opened by the waiting call. The open returned `Ok` for a file no name leads to: it served the
//! replaced file's pages as the path's, its first checkpoint failed (`DataFileUnlinked`), and where the holder had
//! opened the new file again, two pools had "the file at the path" open at once, the one opener `flock` is there
//! to ensure. The same check as R45-3's for a tree's log (`open_locked` in `bufpool-btree`'s `wal.rs`).

use std::path::Path;

use bufpool::{BufferPool, Error, FileId, IoBackend, PageId};

use crate::common::{backends, descriptors_on, ident};

fn pool(backend: IoBackend) -> BufferPool {
    BufferPool::builder()
        .frames(16)
        .page_size(4096)
        .io_backend(backend)
        .build()
        .unwrap()
}

/// Makes `path` with pages 0 and 1 tagged `tag`, checkpointed and closed (its record beside it).
fn make(backend: IoBackend, path: &Path, tag: u8) {
    let pool = pool(backend);
    let f = pool.open_file(path).unwrap();
    for _ in 0..2 {
        let mut g = pool.new_page(f).unwrap();
        g[0] = tag;
        g.set_lsn(1);
    }
    pool.close().unwrap();
}

fn tag(pool: &BufferPool, f: FileId) -> std::result::Result<u8, Error> {
    pool.read(PageId::new(f, 0)).map(|g| g[0])
}

/// What [`race`] leaves: the holder's pool, ours, our open's outcome, the holder's open again (if asked for),
/// and the directory.
type Raced = (
    BufferPool,
    BufferPool,
    std::result::Result<FileId, Error>,
    Option<std::result::Result<FileId, Error>>,
    tempfile::TempDir,
);

/// `other` holds `a.db` (tag 1); `ours` opens it on another thread and waits for the lock. Meanwhile a copy made
/// elsewhere (tag 2, with its record) is renamed over `a.db` and its sidecar, then `other` drops its file (the
/// replaced one) and, if `reopen`, opens `a.db` again: the file the name leads to now. Returns `ours`' open and
/// the holder's second one: they race for the new file's lock, and either may win it (`ours`, finding the file it
/// waited for replaced, opens the name again at once).
fn race(backend: IoBackend, reopen: bool) -> Raced {
    let dir = tempfile::tempdir().unwrap();
    let (a, y) = (dir.path().join("a.db"), dir.path().join("y.db"));
    make(backend, &a, 1);
    make(backend, &y, 2);
    let other = pool(backend);
    let held = other.open_file(&a).unwrap();
    assert_eq!(tag(&other, held).unwrap(), 1);
    let ours = pool(backend);
    let (data, sidecar) = (ident(&a), ident(&bufpool::storage::sidecar_path(&a)));
    let before = (descriptors_on(data), descriptors_on(sidecar));
    let opened = std::thread::scope(|s| {
        let open = s.spawn(|| ours.open_file(&a));
        // Once `ours` holds descriptors of both the data file and its sidecar it is at, or in, the lock's wait
        // (`other` keeps the lock until dropped below).
        while (descriptors_on(data) == before.0 || descriptors_on(sidecar) == before.1) && !open.is_finished() {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert!(
            !open.is_finished(),
            "the open did not wait for the lock: {:?}",
            open.join()
        );
        std::fs::rename(bufpool::storage::sidecar_path(&y), bufpool::storage::sidecar_path(&a)).unwrap();
        std::fs::rename(&y, &a).unwrap();
        other.drop_file(held).unwrap();
        let again = reopen.then(|| other.open_file(&a));
        (open.join().unwrap(), again)
    });
    let (opened, again) = opened;
    (other, ours, opened, again, dir)
}

#[test]
fn an_open_waiting_for_the_lock_opens_the_file_the_name_leads_to_once_it_has_it() {
    for backend in backends() {
        let (_other, ours, opened, _, dir) = race(backend, false);
        let f = opened.unwrap_or_else(|e| panic!("{backend:?}: the open of the restored file was refused: {e}"));
        match tag(&ours, f) {
            Ok(2) => {}
            got => {
                // What the open's file is: its first checkpoint tells.
                let mut g = ours.write(PageId::new(f, 1)).unwrap();
                g[1] = 9;
                g.set_lsn(2);
                drop(g);
                panic!(
                    "{backend:?}: the open after a copy was renamed over {} served page 0 as {got:?}, not the copy's \
                     tag 2: it opened the replaced file, which no name leads to (a checkpoint then: {:?})",
                    dir.path().join("a.db").display(),
                    ours.checkpoint().err()
                );
            }
        }
        ours.close().unwrap();
    }
}

#[test]
fn an_open_waiting_for_the_lock_is_refused_when_the_holder_has_the_new_file_open() {
    for backend in backends() {
        let (other, ours, opened, again, _dir) = race(backend, true);
        let again = again.expect("asked for");
        // One of the two holds the new file, the other is refused: which, the race for its lock decides.
        match (opened, again) {
            (Err(Error::FileLocked { .. }), Ok(held)) => assert_eq!(tag(&other, held).unwrap(), 2),
            (Ok(f), Err(Error::FileLocked { .. })) => assert_eq!(tag(&ours, f).unwrap(), 2, "{backend:?}"),
            (Ok(f), Ok(_)) => panic!(
                "{backend:?}: opened while another pool has the file the name leads to open (page 0 read as {:?}, \
                 the holder's is 2)",
                tag(&ours, f)
            ),
            (opened, again) => panic!("{backend:?}: ours {opened:?}, the holder's again {again:?}"),
        }
        other.close().unwrap();
    }
}
