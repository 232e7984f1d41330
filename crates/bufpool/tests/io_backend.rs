//! `open_file` picks the backend the builder asks for, and the stats say which one each file got. Pages written
//! through one backend read back through the other (same format, same offsets).

use crate::common;

use bufpool::storage::uring_available;
use bufpool::{BufferPool, IoBackend, PageId};

#[test]
fn backends_are_chosen_reported_and_interchangeable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    let auto = BufferPool::builder().frames(8).build().unwrap();
    let file = auto.open_file(&path).unwrap();
    let expected = if uring_available() { "io_uring" } else { "pread" };
    assert_eq!(auto.stats().files[0].backend, expected);
    for n in 0..32 {
        common::fill_page(&mut auto.new_page(file).unwrap(), n, 3);
    }
    auto.close().unwrap();

    let pread = BufferPool::builder()
        .frames(8)
        .io_backend(IoBackend::Pread)
        .build()
        .unwrap();
    let file = pread.open_file(&path).unwrap();
    assert_eq!(pread.stats().files[0].backend, "pread");
    let pages: Vec<PageId> = (0..32).map(|n| PageId::new(file, n)).collect();
    let mut seen = 0;
    pread.read_many(&pages, |i, g| {
        assert_eq!(common::check_page(&g.unwrap(), i as u32), 3);
        seen += 1;
    });
    assert_eq!(seen, 32);

    let uring = BufferPool::builder()
        .frames(8)
        .io_backend(IoBackend::Uring)
        .build()
        .unwrap();
    match uring.open_file(dir.path().join("other")) {
        Ok(_) => assert!(uring_available()),
        Err(bufpool::Error::Open { .. }) => assert!(!uring_available()),
        Err(e) => panic!("{e}"),
    }
}

/// `Builder::io_spin`: a pool whose threads poll their io_uring before sleeping reads and writes the same pages
/// (misses, evictions, batched reads, checkpoints), whether the spin is shorter or longer than the I/O.
#[test]
fn a_polling_pool_reads_and_writes_the_same_pages() {
    if !uring_available() {
        eprintln!("skipped: io_uring is not available on this kernel");
        return;
    }
    for spin in [std::time::Duration::from_nanos(1), std::time::Duration::from_secs(5)] {
        let dir = tempfile::tempdir().unwrap();
        let pool = BufferPool::builder()
            .frames(8)
            .io_backend(IoBackend::Uring)
            .io_spin(spin)
            .build()
            .unwrap();
        let file = pool.open_file(dir.path().join("data")).unwrap();
        for n in 0..64 {
            common::fill_page(&mut pool.new_page(file).unwrap(), n, 5);
        }
        pool.checkpoint().unwrap();
        for n in (0..64).rev() {
            assert_eq!(
                common::check_page(&pool.read(PageId::new(file, n)).unwrap(), n),
                5,
                "spin {spin:?}"
            );
        }
        let pages: Vec<PageId> = (0..64).map(|n| PageId::new(file, n)).collect();
        let mut seen = 0;
        pool.read_many(&pages, |i, g| {
            assert_eq!(common::check_page(&g.unwrap(), i as u32), 5);
            seen += 1;
        });
        assert_eq!(seen, 64);
        pool.close().unwrap();
    }
}
