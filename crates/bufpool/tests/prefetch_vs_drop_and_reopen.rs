//! Prefetches still in flight on the I/O workers when their file is closed or dropped, and another file opened at
//! once under the same id (R28-O1 in RELIABILITY.md). A prefetch reserves its frames under the page ids (file id,
//! page number) and hands the reads to a worker; were a read finished after the drop, or a reserved frame left
//! mapped, the next file under that id would be served the first file's bytes. Each round opens file `a` or `b`
//! (every page of `a` filled with 0xAA, of `b` with 0xBB) under id 7 in a pool of 128 frames with 4 prefetch
//! workers (`Preset::Analytics`), reads a batch and every page, prefetches all 256, and closes or drops it at once.
//! Every page read must hold the open file's byte.

use bufpool::{BufferPool, FileId, FileOptions, PageId, Preset};

#[test]
fn a_prefetch_in_flight_at_a_drop_never_serves_the_next_file_under_its_id() {
    let dir = tempfile::tempdir().unwrap();
    for (name, tag) in [("a", 0xAAu8), ("b", 0xBBu8)] {
        let pool = BufferPool::builder().frames(64).build().unwrap();
        let f = pool.open_file(dir.path().join(name)).unwrap();
        for _ in 0..256 {
            pool.new_page(f).unwrap().fill(tag);
        }
        pool.close_file(f).unwrap();
    }
    let pool = BufferPool::builder()
        .frames(128)
        .preset(Preset::Analytics)
        .build()
        .unwrap();
    let id = FileId(7);
    for round in 0..200usize {
        let (name, tag) = if round % 2 == 0 { ("a", 0xAAu8) } else { ("b", 0xBBu8) };
        let f = pool
            .open_file_with(dir.path().join(name), FileOptions::new().id(id))
            .unwrap();
        let pages: Vec<PageId> = (0..256).map(|n| PageId::new(f, n)).collect();
        let mut wrong = Vec::new();
        pool.read_many(&pages[..(round % 5) * 24], |i, g| {
            if g.is_ok_and(|g| g[0] != tag) {
                wrong.push(i);
            }
        });
        for (i, &page) in pages.iter().enumerate() {
            if pool.read(page).is_ok_and(|g| g[0] != tag) {
                wrong.push(i);
            }
        }
        assert!(
            wrong.is_empty(),
            "round {round}: pages {wrong:?} of {name} hold the other file's bytes"
        );
        pool.prefetch(&pages).unwrap();
        if round % 3 == 0 {
            pool.close_file(f).unwrap();
        } else {
            pool.drop_file(f).unwrap();
        }
    }
    assert!(pool.stats().prefetched > 0, "no prefetch was started");
}
