//! `BufferPool::save_resident`'s temporary file (R28-3 in RELIABILITY.md). The module docs of `resident.rs` say the
//! list is written to `<path>.tmp`, synced and renamed over `path`; the code wrote `path.with_extension("tmp")`,
//! which *replaces* the extension: a list saved as `pool.hot` went through `pool.tmp` (a file of the caller's,
//! truncated, overwritten and then renamed away), two lists `pool.hot` and `pool.cold` saved at once shared one
//! temporary file, and a list named `resident.tmp` was its own temporary file (truncated in place, so a crash
//! mid-write left neither the old list nor the new one).

use std::path::Path;

use bufpool::BufferPool;

fn pool_with_pages(dir: &Path, pages: u32) -> BufferPool {
    let pool = BufferPool::builder().frames(32).page_size(4096).build().unwrap();
    let file = pool.open_file(dir.join("data.db")).unwrap();
    for _ in 0..pages {
        drop(pool.new_page(file).unwrap());
    }
    pool
}

/// A file of the caller's beside the list, named as the list with its extension replaced, is left alone.
#[test]
fn saving_a_list_leaves_the_file_named_as_it_with_another_extension_alone() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool_with_pages(dir.path(), 3);
    let mine = dir.path().join("pool.tmp");
    std::fs::write(&mine, b"the caller's own file").unwrap();
    assert_eq!(pool.save_resident(dir.path().join("pool.hot")).unwrap(), 3);
    assert_eq!(
        std::fs::read(&mine).ok().as_deref(),
        Some(&b"the caller's own file"[..]),
        "pool.tmp was taken as the temporary file of pool.hot"
    );
    assert_eq!(
        bufpool::read_resident_list(dir.path().join("pool.hot"))
            .unwrap()
            .pages
            .len(),
        3
    );
}

/// A list whose name ends in `.tmp` is still replaced whole: the old list stays readable until the rename.
#[test]
fn a_list_named_tmp_is_not_its_own_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("resident.tmp");
    let pool = pool_with_pages(dir.path(), 2);
    assert_eq!(pool.save_resident(&list).unwrap(), 2);
    // Save again: a temporary file distinct from the list is written first (seen as a second name while the
    // old list is still whole); checked here by the list's inode changing (a rename replaces it, a rewrite in
    // place keeps it).
    use std::os::unix::fs::MetadataExt;
    let before = std::fs::metadata(&list).unwrap().ino();
    assert_eq!(pool.save_resident(&list).unwrap(), 2);
    let after = std::fs::metadata(&list).unwrap().ino();
    assert_ne!(
        before, after,
        "resident.tmp was rewritten in place, not replaced by a rename"
    );
    assert_eq!(bufpool::read_resident_list(&list).unwrap().pages.len(), 2);
}

/// R29-2: a symbolic link at the temporary file's name (left in a shared directory, or a stale one pointing
/// anywhere) is not followed: `File::create` opened its target, truncated it and wrote the list into it, so a
/// save replaced another file's bytes (then renamed the link over the list). The link is removed and the
/// temporary file made anew; the target keeps its bytes, the list is a file of its own.
#[test]
fn a_symlink_at_the_temporary_name_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool_with_pages(dir.path(), 2);
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, b"not the pool's to write").unwrap();
    let list = dir.path().join("pool.hot");
    std::os::unix::fs::symlink(&victim, dir.path().join("pool.hot.tmp")).unwrap();
    assert_eq!(pool.save_resident(&list).unwrap(), 2);
    assert_eq!(
        std::fs::read(&victim).unwrap(),
        b"not the pool's to write",
        "the save wrote the list through the link into its target"
    );
    assert!(!std::fs::symlink_metadata(&list).unwrap().file_type().is_symlink());
    assert_eq!(bufpool::read_resident_list(&list).unwrap().pages.len(), 2);
    // A dangling link there is no obstacle either, and nothing is made at its target.
    let nowhere = dir.path().join("nowhere");
    std::os::unix::fs::symlink(&nowhere, dir.path().join("pool.hot.tmp")).unwrap();
    assert_eq!(pool.save_resident(&list).unwrap(), 2);
    assert!(!nowhere.exists(), "the save created the dangling link's target");
    assert!(!dir.path().join("pool.hot.tmp").exists());
}

/// R30-2: a list saved through a symbolic link (the list kept on another disk, the link where the engine looks
/// for it) replaces the file the link leads to, as a save without the link would: the rename went over the link,
/// which became a regular file in its own directory while the file it led to kept the older list.
#[test]
fn a_list_saved_through_a_symbolic_link_replaces_the_file_it_leads_to() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = dir.path().join("lists");
    std::fs::create_dir(&elsewhere).unwrap();
    let target = elsewhere.join("pool.hot");
    let link = dir.path().join("pool.hot");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let pool = pool_with_pages(dir.path(), 2);
    assert_eq!(pool.save_resident(&link).unwrap(), 2);
    let file = pool.resident_pages()[0].page.file();
    drop(pool.new_page(file).unwrap());
    assert_eq!(pool.save_resident(&link).unwrap(), 3);
    assert!(
        std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(),
        "the link was replaced by a regular file"
    );
    assert_eq!(bufpool::read_resident_list(&target).unwrap().pages.len(), 3);
    assert_eq!(bufpool::read_resident_list(&link).unwrap().pages.len(), 3);
    assert!(!elsewhere.join("pool.hot.tmp").exists() && !dir.path().join("pool.hot.tmp").exists());
}

/// R30-3: a list saved again keeps the permissions of the list it replaces (made anew, it took the default mode
/// less the umask: a list readable by its owner only became readable by all); a first list gets the default.
#[test]
fn a_list_saved_again_keeps_its_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let pool = pool_with_pages(dir.path(), 2);
    let list = dir.path().join("pool.hot");
    pool.save_resident(&list).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let first = mode(&list);
    assert_eq!(first & 0o600, 0o600, "a first list is its owner's to read and write");
    for wanted in [0o600, 0o640, 0o660] {
        std::fs::set_permissions(&list, std::fs::Permissions::from_mode(wanted)).unwrap();
        pool.save_resident(&list).unwrap();
        assert_eq!(mode(&list), wanted, "the list saved again has other permissions");
    }
}

/// R30-4: two saves of one list at once (a periodic saver and a shutdown's save, say) each succeed and leave a
/// whole list: a reader never finds a list that is not one. Both made the same `<path>.tmp`; the second removed the
/// first's and made its own, and the first then renamed the second's file, still being written, over the list.
#[test]
fn saves_of_one_list_at_once_leave_a_whole_list() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let pool = pool_with_pages(dir.path(), 20);
    let list = dir.path().join("pool.hot");
    pool.save_resident(&list).unwrap();
    let stop = AtomicBool::new(false);
    let (failed_saves, bad_reads) = std::thread::scope(|s| {
        let savers: Vec<_> = (0..2)
            .map(|_| s.spawn(|| (0..150).filter(|_| pool.save_resident(&list).is_err()).count()))
            .collect();
        let reader = s.spawn(|| {
            let mut bad = 0;
            while !stop.load(Ordering::Relaxed) {
                bad += usize::from(bufpool::read_resident_list(&list).is_err());
            }
            bad
        });
        let failed: usize = savers.into_iter().map(|h| h.join().unwrap()).sum();
        stop.store(true, Ordering::Relaxed);
        (failed, reader.join().unwrap())
    });
    assert_eq!(
        (failed_saves, bad_reads),
        (0, 0),
        "(saves that failed, reads of a list that is not one)"
    );
    assert_eq!(bufpool::read_resident_list(&list).unwrap().pages.len(), 20);
}
