//! Page ids at the edges of the id space (task 2 of review34): the largest file id a caller may use
//! (`FileId::MAX`), the largest page number a file can have (`u32::MAX - 1`, in a file of `u32::MAX` pages), the
//! number past it (`u32::MAX`, never a page) and the reserved `PageId::INVALID`, through every call that takes a
//! page id or a file id. Each is served (the largest page), or refused with a typed error (`OutOfRange` past
//! the file's pages, `FileNotOpen` for a file id no file has, the reserved one included); no call panics, and the
//! pool goes on serving the largest page with its bytes. R34-O2 in RELIABILITY.md (sound).

use std::collections::HashMap;
use std::io;
use std::sync::Mutex;

use bufpool::storage::StorageInfo;
use bufpool::{BufferPool, Error, FileId, PageId, Result, Storage};

/// A storage of `len` bytes that keeps only the pages written (zeroes elsewhere): a file of 2^32 - 1 pages
/// without 16 TiB of disk.
struct Sparse {
    page: u64,
    len: Mutex<u64>,
    pages: Mutex<HashMap<u64, Vec<u8>>>,
}

impl Sparse {
    fn new(page: u64, pages: u64) -> Sparse {
        Sparse {
            page,
            len: Mutex::new(page * pages),
            pages: Mutex::new(HashMap::new()),
        }
    }
}

impl Storage for Sparse {
    fn len(&self) -> io::Result<u64> {
        Ok(*self.len.lock().unwrap())
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        assert_eq!(offset % self.page, 0);
        assert_eq!(buf.len() as u64, self.page);
        let len = *self.len.lock().unwrap();
        if offset >= len {
            return Ok(0);
        }
        match self.pages.lock().unwrap().get(&offset) {
            Some(p) => buf.copy_from_slice(p),
            None => buf.fill(0),
        }
        Ok(buf.len())
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let mut pages = self.pages.lock().unwrap();
        for (k, chunk) in buf.chunks(self.page as usize).enumerate() {
            pages.insert(offset + k as u64 * self.page, chunk.to_vec());
        }
        let mut len = self.len.lock().unwrap();
        *len = (*len).max(offset + buf.len() as u64);
        Ok(())
    }
    fn sync(&self) -> io::Result<()> {
        Ok(())
    }
    fn info(&self) -> StorageInfo {
        StorageInfo {
            backend: "sparse",
            direct: false,
        }
    }
}

/// Every call that takes a page id, on `p`, each call's result reduced to `Ok` or its error (a read's to the
/// page's first byte).
fn every_call(pool: &BufferPool, p: PageId) -> Vec<(&'static str, Result<u8>)> {
    let mut out = vec![
        ("read", pool.read(p).map(|g| g[0])),
        ("write", pool.write(p).map(|g| g[0])),
        ("read_optimistic", pool.read_optimistic(p, |v| v.read_u8(0))),
        ("scan ring read", pool.scan_ring(16).read(p).map(|g| g[0])),
        ("prefetch", pool.prefetch(&[p]).map(|_| 0)),
        ("flush", pool.flush(p).map(|()| 0)),
    ];
    pool.read_many(&[p, p], |_, r| out.push(("read_many", r.map(|g| g[0]))));
    pool.prefetch_lookup(p);
    out.push(("prefetch_frame", if pool.prefetch_frame(p, 64) { Ok(1) } else { Ok(0) }));
    out
}

#[test]
fn page_ids_at_the_edges_of_the_id_space_are_served_or_refused_with_a_typed_error() {
    let pool = BufferPool::builder().frames(8).build().unwrap();
    // The largest file id, a file of 2^32 - 2 pages: new_page makes the last page there can be, u32::MAX - 1.
    let f = pool
        .open_storage_as(FileId::MAX, Sparse::new(4096, u64::from(u32::MAX) - 1))
        .unwrap();
    assert_eq!(pool.file_pages(f).unwrap(), u32::MAX - 1);
    let last = PageId::new(f, u32::MAX - 1);
    {
        let mut g = pool.new_page(f).unwrap();
        assert_eq!(g.page_id(), last);
        g[0] = 7;
        g.set_lsn(5);
    }
    assert_eq!(pool.file_pages(f).unwrap(), u32::MAX);
    // No number is left: new_page is refused, and page u32::MAX (which would be the 2^32-th) never exists.
    let past = PageId::new(f, u32::MAX);
    assert!(matches!(pool.new_page(f).map(|_| ()), Err(Error::OutOfRange { page, pages: u32::MAX }) if page == past));

    // The last page: every call serves it; its write reaches the storage and reads back after an eviction.
    for (call, r) in every_call(&pool, last) {
        match call {
            "prefetch" | "flush" | "prefetch_frame" => assert!(r.is_ok(), "{call}: {r:?}"),
            _ => assert_eq!(r.unwrap(), 7, "{call}"),
        }
    }
    pool.expect_lsn(last, 5).unwrap();
    assert_eq!(pool.written_lsns(f, 0, u64::MAX).unwrap(), vec![(u32::MAX - 1, 5)]);
    pool.checkpoint().unwrap();

    // Past the last page, and pages of file ids no file has (the reserved u32::MAX among them, which with page
    // u32::MAX is PageId::INVALID, the id of a frame that holds no page): typed errors from every call.
    let not_open = [
        PageId::INVALID,
        PageId::new(FileId(u32::MAX), 0),
        PageId::new(FileId(u32::MAX - 2), u32::MAX),
    ];
    for p in std::iter::once(past).chain(not_open) {
        let mut calls = every_call(&pool, p);
        calls.push(("expect_lsn", pool.expect_lsn(p, 5).map(|()| 0)));
        calls.push(("free_page", pool.free_page(p).map(|()| 0)));
        for (call, r) in calls {
            match (call, r) {
                ("prefetch_frame", Ok(0)) => {}
                (_, Err(Error::OutOfRange { page, pages: u32::MAX })) if p == past && page == past => {}
                (_, Err(Error::FileNotOpen(file))) if p != past && file == p.file() => {}
                (call, r) => panic!("{call} of {p:?}: {r:?}"),
            }
        }
    }
    for id in [FileId(u32::MAX), FileId(u32::MAX - 2)] {
        assert!(matches!(pool.file_pages(id), Err(Error::FileNotOpen(i)) if i == id));
        assert!(matches!(pool.file_stats(id), Err(Error::FileNotOpen(i)) if i == id));
        assert!(matches!(pool.flush_file(id), Err(Error::FileNotOpen(i)) if i == id));
        assert!(matches!(pool.close_file(id), Err(Error::FileNotOpen(i)) if i == id));
        assert!(matches!(pool.drop_file(id), Err(Error::FileNotOpen(i)) if i == id));
        assert!(matches!(pool.new_page(id).map(|_| ()), Err(Error::FileNotOpen(i)) if i == id));
    }
    assert!(matches!(
        pool.open_storage_as(FileId(u32::MAX), Sparse::new(4096, 1)),
        Err(Error::InvalidConfig(_))
    ));

    // The last page is freed and made again by new_page (the only number free), zeroed.
    pool.free_page(last).unwrap();
    assert!(matches!(pool.free_page(last), Err(Error::PageFreed { page }) if page == last));
    assert_eq!(pool.new_page(f).unwrap().page_id(), last);
    assert_eq!(pool.read(last).unwrap()[0], 0);
    // A storage of 2^32 pages has a page no id can name: refused at the open.
    assert!(matches!(
        pool.open_storage(Sparse::new(4096, 1 << 32)),
        Err(Error::InvalidConfig(m)) if m.contains("addressable")
    ));
    pool.close_file(f).unwrap();
}
