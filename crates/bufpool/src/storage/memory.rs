//! `MemoryStorage`: an in-memory file image for unit tests and examples.
//!
//! Owns one growable byte vector behind a mutex. `sync` is a no-op: there is no durable image; tests that need
//! crash semantics use the faulty backend, which keeps a live and a durable image apart.

use std::io;

use parking_lot::Mutex;

use super::{RecordStore, Storage, StorageInfo};

/// A growable in-memory byte image, with a file record beside it (so a pool binds its pages to it, see
/// [`Storage::record_store`]). [`MemoryStorage::from_bytes`] starts without a record: a non-empty image without one
/// is served unbound, as a file written before records existed.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    data: Mutex<Vec<u8>>,
    record: MemoryRecord,
    area: MemoryRecord,
}

/// An in-memory [`RecordStore`]: writes are durable at once.
#[derive(Debug, Default)]
pub struct MemoryRecord {
    bytes: Mutex<Vec<u8>>,
}

impl MemoryRecord {
    /// A record store holding `bytes`.
    pub(super) fn holding(bytes: Vec<u8>) -> MemoryRecord {
        MemoryRecord {
            bytes: Mutex::new(bytes),
        }
    }

    /// A copy of its bytes.
    pub(super) fn snapshot(&self) -> Vec<u8> {
        self.bytes.lock().clone()
    }
}

impl RecordStore for MemoryRecord {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let data = self.bytes.lock();
        let start = (offset as usize).min(data.len());
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        Ok(n)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let mut data = self.bytes.lock();
        let start = offset as usize;
        if data.len() < start + buf.len() {
            data.resize(start + buf.len(), 0);
        }
        data[start..start + buf.len()].copy_from_slice(buf);
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        Ok(())
    }
}

impl MemoryStorage {
    /// An empty image.
    pub fn new() -> MemoryStorage {
        MemoryStorage::default()
    }

    /// An image holding `bytes`.
    pub fn from_bytes(bytes: Vec<u8>) -> MemoryStorage {
        MemoryStorage::from_parts(bytes, Vec::new(), Vec::new())
    }

    /// An image holding `bytes` with the file record `record` (bytes from [`MemoryStorage::record_snapshot`]):
    /// a copy of a bound file that stays bound.
    pub fn from_bytes_with_record(bytes: Vec<u8>, record: Vec<u8>) -> MemoryStorage {
        MemoryStorage::from_parts(bytes, record, Vec::new())
    }

    /// A storage holding `bytes`, with `record` as its record store's and `area` as its doublewrite area's bytes
    /// (a file and both its sidecars as a crash left them).
    pub fn from_parts(bytes: Vec<u8>, record: Vec<u8>, area: Vec<u8>) -> MemoryStorage {
        MemoryStorage {
            data: Mutex::new(bytes),
            record: MemoryRecord::holding(record),
            area: MemoryRecord::holding(area),
        }
    }

    /// The doublewrite area's bytes ([`Storage::doublewrite_store`]).
    pub fn area_snapshot(&self) -> Vec<u8> {
        self.area.snapshot()
    }

    /// A copy of the file record's bytes (empty if the pool never created one).
    pub fn record_snapshot(&self) -> Vec<u8> {
        self.record.snapshot()
    }

    /// A copy of the current image.
    pub fn snapshot(&self) -> Vec<u8> {
        self.data.lock().clone()
    }

    /// Runs `f` on the image, e.g. to corrupt bytes in a test.
    pub fn with_bytes<R>(&self, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        f(&mut self.data.lock())
    }
}

impl Storage for MemoryStorage {
    fn len(&self) -> io::Result<u64> {
        Ok(self.data.lock().len() as u64)
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let data = self.data.lock();
        let start = usize::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        if start >= data.len() {
            return Ok(0);
        }
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        Ok(n)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let mut data = self.data.lock();
        let start = usize::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let end = start
            .checked_add(buf.len())
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        if data.len() < end {
            data.resize(end, 0);
        }
        data[start..end].copy_from_slice(buf);
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        Ok(())
    }

    fn info(&self) -> StorageInfo {
        StorageInfo {
            backend: "memory",
            direct: false,
        }
    }

    fn record_store(&self) -> Option<&dyn RecordStore> {
        Some(&self.record)
    }

    fn doublewrite_store(&self) -> io::Result<Option<&dyn RecordStore>> {
        Ok(Some(&self.area))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_extends_and_reads_back() {
        let s = MemoryStorage::new();
        s.write_at(&[1, 2, 3], 10).unwrap();
        assert_eq!(s.len().unwrap(), 13);
        let mut b = [9u8; 5];
        assert_eq!(s.read_at(&mut b, 9).unwrap(), 4);
        assert_eq!(&b[..4], &[0, 1, 2, 3]);
        assert_eq!(s.read_at(&mut b, 100).unwrap(), 0);
    }
}
