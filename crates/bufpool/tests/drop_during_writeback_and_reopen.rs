//! A file dropped or closed while the background writer and prefetches work on it, and another file (or the same
//! one) opened at once under the same id; and a reopen under the id of a file whose close failed (session 42's
//! review, R42-O1 and R42-O2 in RELIABILITY.md).
//!
//! `prefetch_vs_drop_and_reopen.rs` (R28-O1) covers prefetches alone, on the default backend, with no page
//! dirty. Here every page is dirtied each round, so the writer (waking every millisecond, writing whenever a page
//! is dirty) has runs latched or in flight when the drop comes, and evictions write too (64 frames for 256
//! pages); on both backends. A run's file is looked up under its first page's latch, which the drop's sweep waits
//! for, so a run latched before the drop writes the old file and one latched after it finds its page gone; were
//! it otherwise, a page of one file would land in the other under the same id (its identity stamp would then read
//! back as `Corrupt { ForeignFile }`, its byte as the other file's). The files are read back at the end by a fresh
//! pool: every page must hold its own file's byte.
//!
//! A failed close leaves the file open, failed, its dirty pages cached; `drop_file` then closes it. The storage
//! reopened under the same id (healed) must be read from the storage, never from the failed close's cache, and
//! another storage opened under the id must take none of the old file's error or pages.

use std::sync::Arc;

use bufpool::storage::{FaultConfig, FaultyStorage, Storage};
use bufpool::{BufferPool, FileId, FileOptions, PageId, Preset, WriterConfig};

use crate::common::backends;

const PAGES: u32 = 256;
const ID: FileId = FileId(7);

/// Every page's (byte 0, or the error) of the file at `path`, read by a fresh pool.
fn read_back(path: &std::path::Path) -> Vec<Result<u8, String>> {
    let pool = BufferPool::builder().frames(64).build().unwrap();
    let f = pool.open_file(path).unwrap();
    (0..PAGES)
        .map(|n| pool.read(PageId::new(f, n)).map(|g| g[0]).map_err(|e| e.to_string()))
        .collect()
}

#[test]
fn a_drop_during_write_back_never_writes_the_old_file_into_the_next_under_its_id() {
    for backend in backends() {
        let dir = tempfile::tempdir().unwrap();
        for (name, tag) in [("a", 0xAAu8), ("b", 0xBBu8)] {
            let pool = BufferPool::builder().frames(64).build().unwrap();
            let f = pool.open_file(dir.path().join(name)).unwrap();
            for _ in 0..PAGES {
                pool.new_page(f).unwrap().fill(tag);
            }
            pool.close_file(f).unwrap();
        }
        let pool = BufferPool::builder()
            .preset(Preset::Analytics)
            .frames(64)
            .io_backend(backend)
            .background_writer(WriterConfig {
                interval: std::time::Duration::from_millis(1),
                free_frames_target: 8,
                dirty_ratio_max: 0.0,
                pages_per_sec_max: 0,
                batch_pages: 32,
            })
            .build()
            .unwrap();
        let mut wrong = Vec::new();
        for round in 0..120usize {
            // a, a, b, b, ...: the same file again under the id, then the other one.
            let (name, tag) = if round % 4 < 2 { ("a", 0xAAu8) } else { ("b", 0xBBu8) };
            let f = pool
                .open_file_with(dir.path().join(name), FileOptions::new().id(ID))
                .unwrap();
            let pages: Vec<PageId> = (0..PAGES).map(|n| PageId::new(f, n)).collect();
            for &page in &pages {
                match pool.write(page) {
                    Ok(mut g) if g[0] == tag => g[1] = round as u8,
                    Ok(g) => wrong.push(format!("{backend:?} round {round}: {page} of {name} holds {:#x}", g[0])),
                    Err(e) => wrong.push(format!("{backend:?} round {round}: {page} of {name}: {e}")),
                }
            }
            pool.prefetch(&pages[..(round % 5) * 48]).unwrap();
            match round % 3 {
                0 => pool.close_file(f).unwrap(),
                _ => pool.drop_file(f).unwrap(),
            }
        }
        assert!(wrong.is_empty(), "pages served wrong: {wrong:?}");
        let stats = pool.stats();
        assert!(stats.writes > 0, "{backend:?}: nothing was written back");
        drop(pool);
        for (name, tag) in [("a", 0xAAu8), ("b", 0xBBu8)] {
            let bad: Vec<(usize, Result<u8, String>)> = read_back(&dir.path().join(name))
                .into_iter()
                .enumerate()
                .filter(|(_, r)| r.as_ref().ok() != Some(&tag))
                .collect();
            assert!(
                bad.is_empty(),
                "{backend:?}: file {name}'s pages hold another file's writes: {bad:?}"
            );
        }
    }
}

/// Every page's byte 0 (or the error's kind: its message names the file's id) of the file open as `f` in `pool`.
fn bytes(pool: &BufferPool, f: FileId, pages: u32) -> Vec<Result<u8, String>> {
    (0..pages)
        .map(|n| {
            pool.read(PageId::new(f, n))
                .map(|g| g[0])
                .map_err(|e| format!("{e:?}").split([' ', '{', '(']).next().unwrap_or("").to_string())
        })
        .collect()
}

/// A storage of `pages` pages filled with `tag`, written and synced by a pool of its own.
fn storage_of(pages: u32, tag: u8) -> Arc<FaultyStorage> {
    let s = Arc::new(FaultyStorage::new(42, FaultConfig::none()));
    let pool = BufferPool::builder().frames(16).build().unwrap();
    let f = pool.open_storage(s.clone()).unwrap();
    for _ in 0..pages {
        pool.new_page(f).unwrap().fill(tag);
    }
    pool.close_file(f).unwrap();
    s
}

#[test]
fn a_reopen_under_the_id_of_a_file_whose_close_failed_serves_and_writes_only_what_it_opened() {
    const N: u32 = 64;
    let failing = FaultConfig {
        write_eio: 1.0,
        eio_persistent: true,
        ..FaultConfig::none()
    };
    // No background writer: the pages of 2 are in the cache alone when the close fails (its first run of 32
    // fails, the file is failed, and the rest is never tried).
    let pool = BufferPool::builder().frames(128).build().unwrap();
    let old = storage_of(N, 1);
    let f = pool.open_storage_with(old.clone(), FileOptions::new().id(ID)).unwrap();
    for n in 0..N {
        pool.write(PageId::new(f, n)).unwrap().fill(2);
    }
    old.set_config(failing.clone());
    assert!(pool.close_file(f).is_err(), "a close whose writes fail returned Ok");
    pool.drop_file(f).unwrap();

    // Another storage under the id: its own pages, none of the old file's error, and nothing of the old file
    // written into it.
    let new = storage_of(N, 3);
    let len = new.len().unwrap();
    let f = pool.open_storage_with(new.clone(), FileOptions::new().id(ID)).unwrap();
    assert_eq!(
        bytes(&pool, f, N),
        vec![Ok(3); N as usize],
        "the new file served the old file's pages"
    );
    pool.write(PageId::new(f, 5)).unwrap().fill(4);
    pool.checkpoint()
        .expect("the new file's checkpoint took the old file's error");
    pool.close_file(f)
        .expect("the new file's close took the old file's error");
    assert_eq!(new.len().unwrap(), len);
    let check = BufferPool::builder().frames(16).build().unwrap();
    let g = check.open_storage(new.clone()).unwrap();
    let want: Vec<Result<u8, String>> = (0..N).map(|n| Ok(if n == 5 { 4 } else { 3 })).collect();
    assert_eq!(
        bytes(&check, g, N),
        want,
        "the new storage holds other bytes than its own file's"
    );
    check.close_file(g).unwrap();

    // The old storage, healed, under the id again: read from the storage (its pages 1, or 2 where the failed
    // close's write landed, or an error where it tore), never the failed close's cached 2s, and as a fresh pool
    // reads them.
    old.set_config(FaultConfig::none());
    let f = pool.open_storage_with(old.clone(), FileOptions::new().id(ID)).unwrap();
    let served = bytes(&pool, f, N);
    pool.close_file(f).unwrap();
    let fresh = BufferPool::builder().frames(16).build().unwrap();
    let g = fresh.open_storage(old.clone()).unwrap();
    assert_eq!(
        served,
        bytes(&fresh, g, N),
        "the reopened file served pages its storage does not hold"
    );
    assert!(
        served.contains(&Ok(1)),
        "every page's write landed: the case is not the one meant"
    );
}
