//! Fuzz target `pool_ops`: random operation sequences against a model, on `MemoryStorage`.
//!
//! A three-frame pool serves one file, so almost every operation evicts or loads. The model knows every
//! allocated page's exact user bytes; every read (shared, exclusive, optimistic) must return them, new pages must
//! be zeroed, and `close_file` + reopen must keep everything. Corrupting stored bytes behind the pool's back may
//! only ever produce `Error::Corrupt` (or the exact bytes, if the page was resident or the corruption missed),
//! never other bytes. No operation may panic. Run: `cd fuzz && cargo fuzz run pool_ops` (see RELIABILITY.md).
#![no_main]

use std::collections::BTreeMap;
use std::sync::Arc;

use arbitrary::Arbitrary;
use bufpool::{BufferPool, Error, FileId, MemoryStorage, PageId};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Op {
    NewPage(u8),
    Write {
        page: u8,
        offset: u16,
        byte: u8,
    },
    Read(u8),
    ReadOptimistic(u8),
    Flush(u8),
    FlushFile,
    Checkpoint,
    Free(u8),
    CloseReopen,
    /// Flips bits of a stored byte; the page is then allowed to read as corrupt until rewritten.
    CorruptStored {
        page: u8,
        offset: u16,
        xor: u8,
    },
}

struct Model {
    /// Exact user bytes of every allocated page.
    pages: BTreeMap<u32, Vec<u8>>,
    /// Pages whose stored image was corrupted behind the pool's back (until rewritten in full by a flush).
    damaged: BTreeMap<u32, ()>,
}

fn pick(model: &Model, i: u8) -> Option<u32> {
    if model.pages.is_empty() {
        return None;
    }
    model
        .pages
        .keys()
        .nth(i as usize % model.pages.len())
        .copied()
}

fn check(model: &Model, n: u32, got: Result<Vec<u8>, Error>) {
    match got {
        Ok(bytes) => assert_eq!(&bytes, &model.pages[&n], "page {n}: wrong bytes"),
        Err(Error::Corrupt { .. }) => assert!(
            model.damaged.contains_key(&n),
            "page {n}: corrupt but not damaged"
        ),
        Err(e) => panic!("page {n}: unexpected error {e}"),
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let storage = Arc::new(MemoryStorage::new());
    let pool = BufferPool::builder().frames(3).build().unwrap();
    let mut file = pool.open_storage_as(FileId(7), storage.clone()).unwrap();
    let mut model = Model {
        pages: BTreeMap::new(),
        damaged: BTreeMap::new(),
    };
    let user = pool.user_bytes();
    for op in ops.into_iter().take(200) {
        match op {
            Op::NewPage(fill) => {
                let mut g = pool.new_page(file).unwrap();
                assert!(g.iter().all(|&b| b == 0), "new page not zeroed");
                let n = g.page_id().page_no();
                g.fill(fill);
                assert!(
                    model.pages.insert(n, vec![fill; user]).is_none(),
                    "page {n} handed out twice"
                );
                model.damaged.remove(&n);
            }
            Op::Write { page, offset, byte } => {
                let Some(n) = pick(&model, page) else {
                    continue;
                };
                match pool.write(PageId::new(file, n)) {
                    Ok(mut g) => {
                        assert_eq!(
                            &g[..],
                            &model.pages[&n][..],
                            "page {n}: wrong bytes under write"
                        );
                        let at = offset as usize % user;
                        g[at] = byte;
                        model.pages.get_mut(&n).unwrap()[at] = byte;
                    }
                    Err(e) => check(&model, n, Err(e)),
                }
            }
            Op::Read(page) => {
                let Some(n) = pick(&model, page) else {
                    continue;
                };
                check(
                    &model,
                    n,
                    pool.read(PageId::new(file, n)).map(|g| g.to_vec()),
                );
            }
            Op::ReadOptimistic(page) => {
                let Some(n) = pick(&model, page) else {
                    continue;
                };
                check(
                    &model,
                    n,
                    pool.read_optimistic(PageId::new(file, n), |v| v.to_vec()),
                );
            }
            Op::Flush(page) => {
                let Some(n) = pick(&model, page) else {
                    continue;
                };
                pool.flush(PageId::new(file, n)).unwrap();
            }
            Op::FlushFile => pool.flush_file(file).unwrap(),
            Op::Checkpoint => pool.checkpoint().unwrap(),
            Op::Free(page) => {
                let Some(n) = pick(&model, page) else {
                    continue;
                };
                pool.free_page(PageId::new(file, n)).unwrap();
                model.pages.remove(&n);
                model.damaged.remove(&n);
            }
            Op::CloseReopen => {
                pool.close_file(file).unwrap();
                file = pool.open_storage_as(FileId(7), storage.clone()).unwrap();
                // The free list is in memory only: freed pages below the end exist again, with stored bytes
                // (or zeroes) the model no longer tracks; forget them by freeing them again.
                let pages = pool.file_pages(file).unwrap();
                for n in 0..pages {
                    if !model.pages.contains_key(&n) {
                        pool.free_page(PageId::new(file, n)).unwrap();
                    }
                }
                model.damaged.clear();
                // Damage done before the close was overwritten by the close's writes only for dirty pages:
                // re-read everything once to learn which pages are damaged now.
                for (&n, _) in model.pages.clone().iter() {
                    if let Err(Error::Corrupt { .. }) =
                        pool.read(PageId::new(file, n)).map(|g| g.to_vec())
                    {
                        model.damaged.insert(n, ());
                    }
                }
            }
            Op::CorruptStored { page, offset, xor } => {
                let Some(n) = pick(&model, page) else {
                    continue;
                };
                if xor == 0 {
                    continue;
                }
                let at = n as usize * pool.page_size() + offset as usize % pool.page_size();
                let hit = storage.with_bytes(|b| {
                    if at < b.len() {
                        b[at] ^= xor;
                        true
                    } else {
                        false
                    }
                });
                if hit {
                    model.damaged.insert(n, ());
                }
            }
        }
    }
});
