//! An open by path whose lock is refused tells "this pool has the file open" ([`Error::FileAlreadyOpen`], at once)
//! from "another opener has it" ([`Error::FileLocked`], after a wait of up to two seconds for a crashed process's
//! rings to go) by the file it opened. Until R42-2 it asked what the *path* named at the check (`path_identity`):
//! a path renamed over between the open and the check was judged as the new file. Here the file opened is locked
//! by another pool, and during the wait the path is renamed over with a file this pool has open: the open returned
//! `FileAlreadyOpen` naming that other file, which the call never opened, and stopped waiting for the real holder.

use bufpool::{BufferPool, Error};

use crate::common::{descriptors_on, ident};

fn pool() -> BufferPool {
    BufferPool::builder().frames(16).page_size(4096).build().unwrap()
}

#[test]
fn a_path_renamed_over_during_the_lock_wait_is_judged_by_the_file_it_opened() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.db"), dir.path().join("b.db"));
    // Another opener holds `a`'s file; this pool has `b`'s open.
    let other = pool();
    other.open_file(&a).unwrap();
    let ours = pool();
    let b_id = ours.open_file(&b).unwrap();
    let a_ident = ident(&a);
    let held = descriptors_on(a_ident);
    std::thread::scope(|s| {
        let open = s.spawn(|| ours.open_file(&a));
        // Once this pool's open holds a descriptor of `a`'s file, it is at or in the lock's wait (two seconds:
        // the other pool keeps the lock); the path is then renamed over with `b`'s file.
        while descriptors_on(a_ident) == held && !open.is_finished() {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        std::fs::rename(&b, &a).unwrap();
        match open.join().unwrap() {
            Err(Error::FileLocked { path }) => assert_eq!(path, a),
            Err(Error::FileAlreadyOpen { file, .. }) => panic!(
                "the open of a file another pool holds was refused as already open in this pool under {file} \
                 (the file opened under b.db, {b_id}), judged by what the path named after a rename, not by the \
                 file it opened"
            ),
            Err(e) => panic!("refused with another error: {e}"),
            Ok(f) => panic!("a file another pool holds was opened as {f}"),
        }
    });
}
