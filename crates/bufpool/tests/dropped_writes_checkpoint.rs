//! A device that acknowledged a checkpoint's writes of some of its files and kept none of them (R33-11 in
//! RELIABILITY.md): the checksums, the written mark and the page count must turn every lost page into a typed error
//! at the reopen, never serve wrong data, and never hand a lost page's number out again.
//!
//! Three files, each checkpointed at 4 pages (written mark 4), then grown to 8 pages with page 1 rewritten, and
//! checkpointed again (mark 8). Then, as a write-dropping device leaves them: `b` kept everything; `c` kept its
//! length (the extension's metadata) but none of its new pages' data (zeros below the mark); `a` kept nothing of the
//! second checkpoint (its earlier, shorter image: the extension dropped too, and page 1's older valid version). On
//! the main before R33-11, `a` reopened with 4 pages: pages 4 to 7 were out of range and the next `new_page`
//! returned page 4 again, so an engine's pointer to its old page 4 read the new page: valid, of the right file, and
//! not the page it wrote.

use crate::common;
use bufpool::{BufferPool, CorruptReason, Error, IoBackend, PageId};

fn pool() -> BufferPool {
    BufferPool::builder()
        .frames(16)
        .page_size(4096)
        .io_backend(IoBackend::Pread)
        .build()
        .unwrap()
}

#[test]
fn pages_a_device_dropped_under_a_checkpoint_of_several_files_are_refused_and_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    let names = ["a", "b", "c"].map(|n| dir.path().join(format!("{n}.db")));
    let before = {
        let p = pool();
        let files = names.clone().map(|n| p.open_file(n).unwrap());
        for &f in &files {
            for n in 0..4 {
                let mut g = p.new_page(f).unwrap();
                common::fill_page(&mut g, n, 1);
                g.set_lsn(1);
            }
        }
        p.checkpoint().unwrap();
        let before = names.clone().map(|n| std::fs::read(n).unwrap());
        for &f in &files {
            for n in 4..8 {
                let mut g = p.new_page(f).unwrap();
                common::fill_page(&mut g, n, 2);
                g.set_lsn(2);
            }
            let mut g = p.write(PageId::new(f, 1)).unwrap();
            common::fill_page(&mut g, 1, 3);
            g.set_lsn(3);
        }
        p.checkpoint().unwrap();
        for f in files {
            p.close_file(f).unwrap();
        }
        before
    };
    // What the device kept.
    std::fs::write(&names[0], &before[0]).unwrap();
    let mut c = std::fs::read(&names[2]).unwrap();
    c[4 * 4096..].fill(0);
    std::fs::write(&names[2], &c).unwrap();

    let p = pool();
    let [a, b, c] = names.map(|n| p.open_file(n).unwrap());
    let generation = |f, n| p.read(PageId::new(f, n)).map(|g| common::check_page(&g, n));
    // `b`: everything.
    assert_eq!(p.file_pages(b).unwrap(), 8);
    for n in 0..8 {
        assert_eq!(
            generation(b, n).unwrap(),
            [1, 3, 1, 1, 2, 2, 2, 2][n as usize],
            "b page {n}"
        );
    }
    // `c`: zeros below the mark are lost writes.
    assert_eq!(p.file_pages(c).unwrap(), 8);
    for n in 4..8 {
        let r = generation(c, n);
        assert!(
            matches!(
                r,
                Err(Error::Corrupt {
                    reason: CorruptReason::LostWrite { written_pages: 8 },
                    ..
                })
            ),
            "c page {n}: {r:?}"
        );
    }
    // `a`: the lost extension keeps its page numbers, and reads of them fail.
    assert_eq!(
        p.file_pages(a).unwrap(),
        8,
        "a: the pages below the written mark are still counted"
    );
    for n in 4..8 {
        let r = generation(a, n);
        assert!(matches!(r, Err(Error::ShortRead { got: 0, .. })), "a page {n}: {r:?}");
    }
    assert_eq!(
        p.new_page(a).unwrap().page_id().page_no(),
        8,
        "a lost page's number handed out again"
    );
    // Page 1's older version verifies (no checksum can tell, RELIABILITY.md "Real faults"); an engine that knows
    // the LSN it wrote (`expect_lsn`, from its log) is told.
    assert_eq!(generation(a, 1).unwrap(), 1);
    p.close_file(a).unwrap();
    let a = p.open_file(dir.path().join("a.db")).unwrap();
    p.expect_lsn(PageId::new(a, 1), 3).unwrap();
    let r = generation(a, 1);
    assert!(
        matches!(
            r,
            Err(Error::Corrupt {
                reason: CorruptReason::StaleWrite { lsn: 1, .. },
                ..
            })
        ),
        "a page 1 after expect_lsn: {r:?}"
    );
}
