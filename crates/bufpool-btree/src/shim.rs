//! TEMPORARY stand-in for the pool API of `/work/api-contract.md` while `BufferPool` is being written on main.
//! Every page stays in memory (no eviction); `checkpoint` writes dirty pages after `wal.flush_to(page_lsn)`.
//! Deleted once main's pool is merged.
#![allow(missing_docs, dead_code, clippy::undocumented_unsafe_blocks)]

use std::collections::HashMap;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use bufpool::storage::{FileStorage, OpenMode, Storage};
use bufpool::{Error, FileId, Lsn, NoWal, PageId, Result, Wal, PAGE_HEADER_SIZE};
use parking_lot::lock_api::{ArcRwLockReadGuard, ArcRwLockWriteGuard};
use parking_lot::{RawRwLock, RwLock};

struct Frame {
    data: Vec<u8>,
    dirty: bool,
}

type Slot = Arc<RwLock<Frame>>;

struct ShimFile {
    storage: FileStorage,
    pages: RwLock<Vec<Slot>>,
}

pub struct BufferPool {
    page_size: usize,
    frames: usize,
    wal: Arc<dyn Wal>,
    files: RwLock<HashMap<u32, Arc<ShimFile>>>,
    next_id: AtomicU32,
}

pub struct Builder {
    frames: usize,
    page_size: usize,
    wal: Arc<dyn Wal>,
}

impl Builder {
    pub fn frames(mut self, n: usize) -> Self {
        self.frames = n;
        self
    }
    pub fn page_size(mut self, n: usize) -> Self {
        self.page_size = n;
        self
    }
    pub fn wal(mut self, w: Arc<dyn Wal>) -> Self {
        self.wal = w;
        self
    }
    pub fn build(self) -> Result<BufferPool> {
        Ok(BufferPool {
            page_size: self.page_size,
            frames: self.frames,
            wal: self.wal,
            files: RwLock::new(HashMap::new()),
            next_id: AtomicU32::new(1),
        })
    }
}

pub struct ReadGuard<'a> {
    g: ArcRwLockReadGuard<RawRwLock, Frame>,
    pid: PageId,
    _p: PhantomData<&'a BufferPool>,
}

pub struct WriteGuard<'a> {
    g: ArcRwLockWriteGuard<RawRwLock, Frame>,
    pid: PageId,
    _p: PhantomData<&'a BufferPool>,
}

pub struct PageView<'a> {
    b: &'a [u8],
}

impl PageView<'_> {
    pub fn len(&self) -> usize {
        self.b.len()
    }
    pub fn read_into(&self, off: usize, out: &mut [u8]) {
        if let Some(src) = self.b.get(off..off + out.len()) {
            out.copy_from_slice(src);
        }
    }
}

fn lsn_of(d: &[u8]) -> Lsn {
    u64::from_le_bytes(d[8..16].try_into().unwrap())
}

impl ReadGuard<'_> {
    pub fn page_id(&self) -> PageId {
        self.pid
    }
    pub fn lsn(&self) -> Lsn {
        lsn_of(&self.g.data)
    }
}

impl WriteGuard<'_> {
    pub fn page_id(&self) -> PageId {
        self.pid
    }
    pub fn lsn(&self) -> Lsn {
        lsn_of(&self.g.data)
    }
    pub fn set_lsn(&mut self, lsn: Lsn) {
        self.g.data[8..16].copy_from_slice(&lsn.to_le_bytes());
    }
}

impl Deref for ReadGuard<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.g.data[PAGE_HEADER_SIZE..]
    }
}
impl Deref for WriteGuard<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.g.data[PAGE_HEADER_SIZE..]
    }
}
impl DerefMut for WriteGuard<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.g.data[PAGE_HEADER_SIZE..]
    }
}

impl BufferPool {
    pub fn builder() -> Builder {
        Builder {
            frames: 1024,
            page_size: 4096,
            wal: Arc::new(NoWal),
        }
    }

    fn file(&self, id: FileId) -> Result<Arc<ShimFile>> {
        self.files
            .read()
            .get(&id.0)
            .cloned()
            .ok_or(Error::FileNotOpen(id))
    }

    pub fn open_file(&self, path: impl AsRef<Path>) -> Result<FileId> {
        let id = FileId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let storage = FileStorage::open(path, OpenMode::Buffered)
            .map_err(|e| Error::io(id, None, "open", e))?;
        let len = storage.len().map_err(|e| Error::io(id, None, "len", e))? as usize;
        let n = len / self.page_size;
        let mut pages = Vec::with_capacity(n);
        for no in 0..n {
            let mut data = vec![0u8; self.page_size];
            storage
                .read_at(&mut data, (no * self.page_size) as u64)
                .map_err(|e| Error::io(id, None, "read", e))?;
            bufpool::checksum::verify(&data, no as u32).map_err(|reason| Error::Corrupt {
                page: PageId::new(id, no as u32),
                reason,
            })?;
            pages.push(Arc::new(RwLock::new(Frame { data, dirty: false })));
        }
        self.files.write().insert(
            id.0,
            Arc::new(ShimFile {
                storage,
                pages: RwLock::new(pages),
            }),
        );
        Ok(id)
    }

    pub fn file_pages(&self, file: FileId) -> Result<u32> {
        Ok(self.file(file)?.pages.read().len() as u32)
    }

    fn slot(&self, page: PageId) -> Result<Slot> {
        let f = self.file(page.file())?;
        let pages = f.pages.read();
        pages
            .get(page.page_no() as usize)
            .cloned()
            .ok_or(Error::OutOfRange {
                page,
                pages: pages.len() as u32,
            })
    }

    pub fn new_page(&self, file: FileId) -> Result<WriteGuard<'_>> {
        let f = self.file(file)?;
        let mut pages = f.pages.write();
        let slot = Arc::new(RwLock::new(Frame {
            data: vec![0u8; self.page_size],
            dirty: true,
        }));
        pages.push(slot.clone());
        let pid = PageId::new(file, pages.len() as u32 - 1);
        let g = slot.write_arc();
        Ok(WriteGuard {
            g,
            pid,
            _p: PhantomData,
        })
    }

    pub fn read(&self, page: PageId) -> Result<ReadGuard<'_>> {
        Ok(ReadGuard {
            g: self.slot(page)?.read_arc(),
            pid: page,
            _p: PhantomData,
        })
    }

    pub fn write(&self, page: PageId) -> Result<WriteGuard<'_>> {
        let mut g = self.slot(page)?.write_arc();
        g.dirty = true;
        Ok(WriteGuard {
            g,
            pid: page,
            _p: PhantomData,
        })
    }

    pub fn read_optimistic<R>(
        &self,
        page: PageId,
        mut f: impl FnMut(&PageView<'_>) -> R,
    ) -> Result<R> {
        let slot = self.slot(page)?;
        let g = slot.read();
        Ok(f(&PageView {
            b: &g.data[PAGE_HEADER_SIZE..],
        }))
    }

    pub fn checkpoint(&self) -> Result<()> {
        let files: Vec<(u32, Arc<ShimFile>)> = self
            .files
            .read()
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        for (id, f) in files {
            let pages: Vec<Slot> = f.pages.read().clone();
            for (no, slot) in pages.iter().enumerate() {
                let mut g = slot.write();
                if !g.dirty {
                    continue;
                }
                self.wal.flush_to(lsn_of(&g.data))?;
                let mut copy = g.data.clone();
                bufpool::checksum::stamp(&mut copy, no as u32);
                f.storage
                    .write_at(&copy, (no * self.page_size) as u64)
                    .map_err(|e| Error::io(FileId(id), None, "write", e))?;
                g.dirty = false;
            }
            f.storage
                .sync()
                .map_err(|e| Error::io(FileId(id), None, "sync", e))?;
        }
        Ok(())
    }

    pub fn close_file(&self, file: FileId) -> Result<()> {
        self.checkpoint()?;
        self.files.write().remove(&file.0);
        Ok(())
    }

    pub fn page_size(&self) -> usize {
        self.page_size
    }
    pub fn user_bytes(&self) -> usize {
        self.page_size - PAGE_HEADER_SIZE
    }
    pub fn frames(&self) -> usize {
        self.frames
    }
}
