//! bufpool: a buffer pool manager for Rust storage engines.
#![forbid(unsafe_op_in_unsafe_fn)]

pub mod checksum;
mod error;
pub mod page;
pub mod policy;
pub mod storage;
mod wal;

pub use error::{CorruptReason, Error, Result};
pub use page::{FileId, Lsn, PageId, PageNo, PageSize, PAGE_HEADER_SIZE};
pub use policy::{AccessHint, FrameIdx, Policy, PolicyKind};
pub use storage::{FileStorage, MemoryStorage, OpenMode, Storage};
pub use wal::{NoWal, Wal};
