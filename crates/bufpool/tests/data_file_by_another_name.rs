//! A data file opened under another name than the one its record (`<name>.bpmeta`) sits beside: a symbolic link to
//! it, a hard link, or the file renamed or copied without its sidecar (R30-1 in RELIABILITY.md). Such an open finds
//! no record beside the name it was given, so the file is *unbound* (ARCHITECTURE.md, "The file record"): its pages
//! are read with any identity. The pages it writes must still read back when the file is opened again under its
//! own name, bound to its record's identity: stamped with identity 0 (as before R30-1) they came back as
//! `Error::Corrupt { reason: ForeignFile }`, every page changed through the other name lost to the engine.

use std::path::Path;

use bufpool::{BufferPool, FileId, PageId};

const PAGES: u32 = 4;

fn pool() -> BufferPool {
    BufferPool::builder().frames(32).page_size(4096).build().unwrap()
}

/// Writes `tag` and the page number into the first bytes of every page of `path` (making the pages that are not
/// there yet), checkpoints and closes it.
fn write_all(pool: &BufferPool, path: &Path, tag: u8) {
    let file = pool.open_file(path).unwrap();
    for no in 0..PAGES {
        let mut g = if no < pool.file_pages(file).unwrap() {
            pool.write(PageId::new(file, no)).unwrap()
        } else {
            pool.new_page(file).unwrap()
        };
        assert_eq!(g.page_id().page_no(), no);
        g[0] = tag;
        g[1] = no as u8;
        g.set_lsn(1);
    }
    pool.checkpoint().unwrap();
    pool.close_file(file).unwrap();
}

/// Reads every page of `path` and returns, per page, its tag (or the error).
fn tags(pool: &BufferPool, path: &Path) -> Vec<Result<u8, String>> {
    let file: FileId = pool.open_file(path).unwrap();
    let got = (0..PAGES)
        .map(|no| {
            pool.read(PageId::new(file, no))
                .map(|g| {
                    assert_eq!(g[1], no as u8, "page {no} holds another page's bytes");
                    g[0]
                })
                .map_err(|e| e.to_string())
        })
        .collect();
    pool.close_file(file).unwrap();
    got
}

/// Made under `own`, written through `other` (which names the same file), then read under `own` again, and
/// through `other` again: every page holds the last bytes written, whichever name wrote them.
fn written_through_both_names(own: &Path, other: &Path) {
    let pool = pool();
    write_all(&pool, own, 1);
    assert_eq!(tags(&pool, own), vec![Ok(1); PAGES as usize]);
    write_all(&pool, other, 2);
    assert_eq!(
        tags(&pool, own),
        vec![Ok(2); PAGES as usize],
        "pages written under {} do not read back under {}",
        other.display(),
        own.display()
    );
    write_all(&pool, own, 3);
    assert_eq!(tags(&pool, other), vec![Ok(3); PAGES as usize]);
    assert_eq!(tags(&pool, own), vec![Ok(3); PAGES as usize]);
}

#[test]
fn pages_written_through_a_symbolic_link_read_back_under_the_files_own_name() {
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join("data.db");
    let link = dir.path().join("link.db");
    std::os::unix::fs::symlink(&own, &link).unwrap();
    written_through_both_names(&own, &link);
}

#[test]
fn pages_written_through_a_hard_link_read_back_under_the_files_own_name() {
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join("data.db");
    let link = dir.path().join("link.db");
    {
        let pool = pool();
        write_all(&pool, &own, 0);
    }
    std::fs::hard_link(&own, &link).unwrap();
    written_through_both_names(&own, &link);
}

/// A file made through a symbolic link (its record beside the link), then opened under its own name (no record
/// there), then through the link again.
#[test]
fn a_file_made_through_a_symbolic_link_reads_back_through_it_after_writes_under_its_own_name() {
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join("data.db");
    let link = dir.path().join("link.db");
    std::os::unix::fs::symlink(&own, &link).unwrap();
    written_through_both_names(&link, &own);
}

/// A copy of a data file without its sidecar (ARCHITECTURE.md's "compatible case"), written, then put back in
/// the original's place beside the original's record.
#[test]
fn a_copy_written_without_its_record_reads_back_when_put_back_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join("data.db");
    let copy = dir.path().join("copy.db");
    let pool = pool();
    write_all(&pool, &own, 1);
    std::fs::copy(&own, &copy).unwrap();
    write_all(&pool, &copy, 2);
    std::fs::rename(&copy, &own).unwrap();
    assert_eq!(tags(&pool, &own), vec![Ok(2); PAGES as usize]);
}

/// While a file is open, an open of it by another name (a symbolic link, a hard link, `/proc/self/fd/N` of a
/// descriptor of it) is refused, in this pool and in another, and the open file is left as it was (R30-O1).
#[test]
fn a_file_open_under_one_name_is_refused_under_another() {
    use std::os::unix::io::AsRawFd;
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join("data.db");
    let symlink = dir.path().join("symlink.db");
    let hard = dir.path().join("hard.db");
    let pool = pool();
    write_all(&pool, &own, 1);
    std::os::unix::fs::symlink(&own, &symlink).unwrap();
    std::fs::hard_link(&own, &hard).unwrap();
    let held = std::fs::File::open(&own).unwrap();
    let by_fd = std::path::PathBuf::from(format!("/proc/self/fd/{}", held.as_raw_fd()));
    let file = pool.open_file(&own).unwrap();
    let other = self::pool();
    for name in [&symlink, &hard, &by_fd] {
        for p in [&pool, &other] {
            let refused = p.open_file(name);
            assert!(
                matches!(
                    refused,
                    Err(bufpool::Error::FileAlreadyOpen { .. } | bufpool::Error::FileLocked { .. })
                        // `/proc/self/fd/N`: its sidecar cannot be made there.
                        | Err(bufpool::Error::Open { .. })
                ),
                "{} opened while open as {}: {refused:?}",
                name.display(),
                own.display()
            );
        }
    }
    assert_eq!(pool.read(PageId::new(file, 3)).unwrap()[0], 1);
    pool.close_file(file).unwrap();
}
