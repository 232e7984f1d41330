//! bufpool: a buffer pool manager for Rust storage engines.
#![forbid(unsafe_op_in_unsafe_fn)]

pub mod checksum;
mod error;
mod files;
mod frame;
mod guard;
pub mod page;
pub mod policy;
mod pool;
mod stats;
pub mod storage;
mod sync;
mod table;
mod wal;

pub use error::{CorruptReason, Error, Result};
pub use guard::{PageView, ReadGuard, WriteGuard};
pub use page::{FileId, Lsn, PageId, PageNo, PageSize, PAGE_HEADER_SIZE};
pub use policy::{AccessHint, FrameIdx, Policy, PolicyKind};
pub use pool::{BufferPool, Builder, EvictionVeto};
pub use stats::{FileStats, Stats};
pub use storage::{FileStorage, MemoryStorage, OpenMode, Storage};
pub use wal::{NoWal, Wal};
