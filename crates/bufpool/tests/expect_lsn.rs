//! `BufferPool::expect_lsn` and `written_lsns` (R22-10 in RELIABILITY.md): an engine hands the pool the LSN a page
//! was written at before this open (a checkpoint's note in its log); a load that reads an older valid version is
//! `Corrupt { StaleWrite }` naming the page, at the load, not at the call; a cached copy older is refused at the
//! call; a page past the file's end is `OutOfRange`. Until a read or a write confirms it, the expectation is
//! listed by `written_lsns`, whatever its LSN, so an engine's next checkpoint carries it.

use bufpool::{BufferPool, CorruptReason, Error, PageId};

const PAGE: usize = 4096;

/// Four pages at LSNs 11 to 14, written and the file closed; then page 2 rewritten at LSN 20 and closed, and the
/// device's drop of that rewrite made by putting its bytes back.
fn file_with_a_dropped_rewrite(path: &std::path::Path) {
    let pool = BufferPool::builder().frames(8).build().unwrap();
    let file = pool.open_file(path).unwrap();
    for i in 0..4u8 {
        let mut g = pool.new_page(file).unwrap();
        g[0] = i;
        g.set_lsn(11 + u64::from(i));
    }
    pool.close_file(file).unwrap();
    let before = std::fs::read(path).unwrap();
    let file = pool.open_file(path).unwrap();
    {
        let mut g = pool.write(PageId::new(file, 2)).unwrap();
        g[0] = 42;
        g.set_lsn(20);
    }
    pool.close_file(file).unwrap();
    let mut now = std::fs::read(path).unwrap();
    now[2 * PAGE..3 * PAGE].copy_from_slice(&before[2 * PAGE..3 * PAGE]);
    std::fs::write(path, &now).unwrap();
}

fn stale(r: bufpool::Result<impl Sized>, no: u32) -> (u64, u64) {
    match r {
        Err(Error::Corrupt {
            page,
            reason: CorruptReason::StaleWrite { lsn, written },
        }) if page.page_no() == no => (lsn, written),
        Err(e) => panic!("page {no}: not StaleWrite: {e}"),
        Ok(_) => panic!("page {no}: read without an error"),
    }
}

#[test]
fn an_expected_page_read_older_is_refused_at_its_first_load_and_not_before() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.db");
    file_with_a_dropped_rewrite(&path);
    let pool = BufferPool::builder().frames(8).build().unwrap();
    let file = pool.open_file(&path).unwrap();
    // Nothing is read by the call.
    pool.expect_lsn(PageId::new(file, 2), 20).unwrap();
    pool.expect_lsn(PageId::new(file, 1), 12).unwrap();
    assert_eq!(pool.stats().reads, 0, "expect_lsn read a page");
    // Listed whatever `after` is, until confirmed; an expectation above `upto` is not.
    assert_eq!(pool.written_lsns(file, 1000, 1000).unwrap(), vec![(1, 12), (2, 20)]);
    assert_eq!(pool.written_lsns(file, 1000, 15).unwrap(), vec![(1, 12)]);
    assert_eq!(stale(pool.read(PageId::new(file, 2)), 2), (13, 20));
    // At every load, as a page this open wrote (R21-11).
    assert_eq!(stale(pool.read(PageId::new(file, 2)), 2), (13, 20));
    assert_eq!(pool.read(PageId::new(file, 1)).unwrap()[0], 1);
    assert_eq!(
        pool.written_lsns(file, 1000, 1000).unwrap(),
        vec![(2, 20)],
        "page 1 confirmed"
    );
    // A lower expectation than what the page holds changes nothing; one at or below it is confirmed at a load.
    pool.expect_lsn(PageId::new(file, 3), 5).unwrap();
    assert_eq!(pool.written_lsns(file, 1000, 1000).unwrap(), vec![(2, 20), (3, 5)]);
    // A cached copy older than the expectation is refused at the call; one as new is confirmed by it.
    assert_eq!(pool.read(PageId::new(file, 3)).unwrap()[0], 3);
    assert_eq!(
        pool.written_lsns(file, 1000, 1000).unwrap(),
        vec![(2, 20)],
        "page 3 confirmed"
    );
    assert_eq!(stale(pool.expect_lsn(PageId::new(file, 3), 30), 3), (14, 30));
    pool.expect_lsn(PageId::new(file, 1), 12).unwrap();
    // A write confirms: the page is on disk as written now.
    {
        let mut g = pool.write(PageId::new(file, 0)).unwrap();
        g.set_lsn(40);
    }
    pool.expect_lsn(PageId::new(file, 0), 50).unwrap_err();
    pool.flush(PageId::new(file, 0)).unwrap();
    assert_eq!(
        pool.written_lsns(file, 30, 1000).unwrap(),
        vec![(0, 40), (2, 20), (3, 30)]
    );
    assert_eq!(pool.written_lsns(file, 40, 1000).unwrap(), vec![(2, 20), (3, 30)]);
}

#[test]
fn an_expectation_past_the_files_end_is_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.db");
    file_with_a_dropped_rewrite(&path);
    let pool = BufferPool::builder().frames(8).build().unwrap();
    let file = pool.open_file(&path).unwrap();
    match pool.expect_lsn(PageId::new(file, 4), 20) {
        Err(Error::OutOfRange { page, pages: 4 }) => assert_eq!(page.page_no(), 4),
        r => panic!("{r:?}"),
    }
    assert_eq!(pool.written_lsns(file, 0, 1000).unwrap(), vec![]);
}
