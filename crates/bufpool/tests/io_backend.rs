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

/// Review27 (R27-O3): a batch through io_uring of which some requests fail in the kernel while the rest succeed
/// (the file cut short under the open pool, so the requests for pages past its new end read nothing). Each page's
/// outcome goes to its own `visit`: the pages before the cut come back whole, those past it as errors; no frame is
/// left pinned or latched by the failed loads (every frame of the pool can be taken right after), and a failed
/// page is not served later from a frame its load left behind.
#[test]
fn a_uring_batch_with_failing_requests_reports_each_page_and_keeps_no_frame() {
    if !uring_available() {
        eprintln!("skipped: io_uring is not available on this kernel");
        return;
    }
    const FRAMES: usize = 24;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    let writer = BufferPool::builder().frames(8).build().unwrap();
    let file = writer.open_file(&path).unwrap();
    for n in 0..20 {
        common::fill_page(&mut writer.new_page(file).unwrap(), n, 5);
    }
    writer.close().unwrap();
    let pool = BufferPool::builder()
        .frames(FRAMES)
        .io_backend(IoBackend::Uring)
        .build()
        .unwrap();
    let file = pool.open_file(&path).unwrap();
    let page_bytes = std::fs::metadata(&path).unwrap().len() / 20;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(12 * page_bytes)
        .unwrap();
    let pages: Vec<PageId> = (0..20).map(|n| PageId::new(file, n)).collect();
    for round in 0..2 {
        let mut seen = [0u8; 20];
        pool.read_many(&pages, |i, g| {
            seen[i] += 1;
            match g {
                Ok(g) => {
                    assert!(i < 12, "round {round}: page {i} past the cut read as Ok");
                    assert_eq!(common::check_page(&g, i as u32), 5, "round {round}: page {i}");
                }
                Err(e) => assert!(i >= 12, "round {round}: page {i} before the cut: {e}"),
            }
        });
        assert_eq!(seen, [1; 20], "round {round}: each page's outcome given once");
        // Every frame can be taken: the failed loads left none latched or pinned.
        let other = pool.open_storage(bufpool::storage::MemoryStorage::new()).unwrap();
        let held: Vec<_> = (0..FRAMES)
            .map(|n| {
                pool.new_page(other)
                    .unwrap_or_else(|e| panic!("round {round}: frame {n} of {FRAMES}: {e}"))
            })
            .collect();
        drop(held);
        pool.drop_file(other).unwrap();
        assert!(pool.read(PageId::new(file, 15)).is_err(), "round {round}");
    }
}
