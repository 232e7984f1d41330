//! Bad input gets a typed error and loses nothing: a page out of range, a file opened twice, an id in use, a
//! short (truncated) page, a closed file, an invalid configuration, a guard held during free/drop.

use bufpool::{BufferPool, Error, FileId, MemoryStorage, PageId};

#[test]
fn page_out_of_range() {
    let pool = BufferPool::builder().frames(4).build().unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    drop(pool.new_page(file).unwrap());
    assert!(matches!(
        pool.read(PageId::new(file, 1)),
        Err(Error::OutOfRange { pages: 1, .. })
    ));
    assert!(matches!(
        pool.write(PageId::new(file, 99)),
        Err(Error::OutOfRange { .. })
    ));
    assert!(matches!(
        pool.free_page(PageId::new(file, 5)),
        Err(Error::OutOfRange { .. })
    ));
    assert!(matches!(
        pool.read(PageId::new(FileId(77), 0)),
        Err(Error::FileNotOpen(FileId(77)))
    ));
}

#[test]
fn file_opened_twice_and_ids_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let pool = BufferPool::builder().frames(4).build().unwrap();
    let a = pool.open_file_as(FileId(10), dir.path().join("a")).unwrap();
    assert_eq!(a, FileId(10));
    assert!(matches!(
        pool.open_file(dir.path().join("a")),
        Err(Error::FileAlreadyOpen { file: FileId(10), .. })
    ));
    assert!(matches!(
        pool.open_file_as(FileId(10), dir.path().join("b")),
        Err(Error::FileIdInUse(FileId(10)))
    ));
    assert!(matches!(
        pool.open_file_as(FileId(u32::MAX), dir.path().join("c")),
        Err(Error::InvalidConfig(_))
    ));
    let b = pool.open_file(dir.path().join("b")).unwrap();
    assert_ne!(a, b);
    assert!(matches!(
        pool.open_file(dir.path().join("no/such/dir/x")),
        Err(Error::Open { .. })
    ));
}

#[test]
fn truncated_page_is_a_short_read() {
    let pool = BufferPool::builder().frames(4).build().unwrap();
    let file = pool
        .open_storage(MemoryStorage::from_bytes(vec![0; 4096 + 100]))
        .unwrap();
    assert_eq!(pool.file_pages(file).unwrap(), 2);
    assert!(matches!(
        pool.read(PageId::new(file, 1)),
        Err(Error::ShortRead {
            got: 100,
            want: 4096,
            ..
        })
    ));
    assert!(pool.read(PageId::new(file, 0)).is_ok());
}

#[test]
fn invalid_configuration() {
    assert!(matches!(
        BufferPool::builder().page_size(3000).build(),
        Err(Error::InvalidConfig(_))
    ));
    assert!(matches!(
        BufferPool::builder().page_size(1 << 17).build(),
        Err(Error::InvalidConfig(_))
    ));
    assert!(matches!(
        BufferPool::builder().frames(0).build(),
        Err(Error::InvalidConfig(_))
    ));
    let pool = BufferPool::builder().page_size(65536).frames(2).build().unwrap();
    assert_eq!(pool.user_bytes(), 65536 - 24);
}

#[test]
fn free_page_is_reused_and_refused_while_latched() {
    let pool = BufferPool::builder().frames(4).build().unwrap();
    let file = pool.open_storage(MemoryStorage::new()).unwrap();
    for _ in 0..3 {
        drop(pool.new_page(file).unwrap());
    }
    // Another thread's held guard is waited for (about a second), then reported.
    std::thread::scope(|s| {
        let (taken_tx, taken_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let pool = &pool;
        s.spawn(move || {
            let g = pool.read(PageId::new(file, 1)).unwrap();
            taken_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            drop(g);
        });
        taken_rx.recv().unwrap();
        assert!(matches!(
            pool.free_page(PageId::new(file, 1)),
            Err(Error::PageLatched { .. })
        ));
        release_tx.send(()).unwrap();
    });
    // The calling thread's own guard is reported at once (S1: it would wait for ever).
    let g = pool.read(PageId::new(file, 1)).unwrap();
    assert!(matches!(
        pool.free_page(PageId::new(file, 1)),
        Err(Error::HeldByCaller { .. })
    ));
    drop(g);
    pool.free_page(PageId::new(file, 1)).unwrap();
    let mut g = pool.new_page(file).unwrap();
    assert_eq!(g.page_id(), PageId::new(file, 1), "the freed page is reused first");
    assert!(g.iter().all(|&b| b == 0), "a reused page starts zeroed");
    g[0] = 1;
    drop(g);
    assert_eq!(pool.new_page(file).unwrap().page_id(), PageId::new(file, 3));
}
