//! Page identity and the on-disk page format.
//!
//! Owns: [`FileId`], [`PageNo`], [`PageId`] (one `u64`, file in the high 32 bits, the way PostgreSQL's buffer tag
//! names relation + block), [`Lsn`], the validated [`PageSize`], and the layout of the pool's page header.
//!
//! # Page format
//! Every page starts with a [`PAGE_HEADER_SIZE`]-byte header owned by the pool; the caller sees only the rest
//! (the *user region*, [`PageSize::user_bytes`]).
//!
//! | bytes    | field      | meaning                                                                    |
//! |----------|------------|----------------------------------------------------------------------------|
//! | 0..4     | `checksum` | CRC-32C over bytes `4..page_size` (so it covers the page number and LSN)   |
//! | 4..8     | `page_no`  | the page's own number: a page read from the wrong offset fails the check   |
//! | 8..16    | `lsn`      | page LSN: the WAL must be durable up to here before the page is written    |
//! | 16..18   | `magic`    | [`PAGE_MAGIC`], so `bufpool inspect` can tell our pages from foreign bytes |
//! | 18       | `format`   | [`PAGE_FORMAT_VERSION`] (one byte; format 1 had a `u16` here)              |
//! | 19       | `size`     | log2 of the page size: a pool of another page size names both sizes        |
//! | 20..24   | `file`     | the file's identity (random, from its file record; 0 for an unbound file)   |
//!
//! All integers are little-endian. A page whose bytes are all zero is a page that was never written (a hole in
//! the file, or a page allocated but not yet flushed); it reads as a zeroed user region, not as corruption,
//! unless the file's record says the page was written (strict mode: [`crate::CorruptReason::LostWrite`]).
//! ARCHITECTURE.md ("Page format and file record") says why the identity lives in each page and the record
//! beside the file.

use std::alloc::{self, Layout};
use std::fmt;
use std::mem::MaybeUninit;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// Identifies an open file of the pool. An engine may choose it ([`crate::BufferPool::open_file_as`]) to keep
/// stable, persistent ids (as PostgreSQL's catalog keeps relfilenodes); otherwise the pool assigns one.
///
/// `u32::MAX` is reserved (it would make the reserved [`PageId::INVALID`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct FileId(pub u32);

impl FileId {
    /// The largest id a caller may use.
    pub const MAX: FileId = FileId(u32::MAX - 1);
}

impl fmt::Display for FileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "file {}", self.0)
    }
}

/// A page's number within its file: page `n` lives at byte offset `n * page_size`.
pub type PageNo = u32;

/// Log sequence number: a position in the engine's write-ahead log.
pub type Lsn = u64;

/// Names one page of one file: `(FileId, PageNo)` packed into a `u64`, file in the high bits, so pages of one file
/// sort together and in file order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PageId(u64);

impl PageId {
    /// A value no real page has; marks a frame that holds no page.
    pub const INVALID: PageId = PageId(u64::MAX);

    /// The page `page_no` of `file`.
    #[inline]
    pub const fn new(file: FileId, page_no: PageNo) -> PageId {
        PageId(((file.0 as u64) << 32) | page_no as u64)
    }

    /// The file this page belongs to.
    #[inline]
    pub const fn file(self) -> FileId {
        FileId((self.0 >> 32) as u32)
    }

    /// The page's number within its file.
    #[inline]
    pub const fn page_no(self) -> PageNo {
        self.0 as u32
    }

    /// The packed representation (same as `u64::from(self)`).
    #[inline]
    pub const fn as_u64(self) -> u64 {
        self.0
    }

    /// Rebuilds a page id from its packed form.
    #[inline]
    pub const fn from_u64(raw: u64) -> PageId {
        PageId(raw)
    }
}

impl From<PageId> for u64 {
    #[inline]
    fn from(p: PageId) -> u64 {
        p.0
    }
}

impl From<u64> for PageId {
    #[inline]
    fn from(raw: u64) -> PageId {
        PageId(raw)
    }
}

impl fmt::Debug for PageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == PageId::INVALID {
            write!(f, "PageId(INVALID)")
        } else {
            write!(f, "PageId({}:{})", self.file().0, self.page_no())
        }
    }
}

impl fmt::Display for PageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "page {}:{}", self.file().0, self.page_no())
    }
}

/// Size of the pool's header at the start of every page.
pub const PAGE_HEADER_SIZE: usize = 24;
/// Marks a page written by bufpool (bytes 16..18 of the header).
pub const PAGE_MAGIC: u16 = 0xB0F1;
/// Version of the page format described in this module (stored in one byte).
pub const PAGE_FORMAT_VERSION: u16 = 2;

pub(crate) const OFF_CHECKSUM: usize = 0;
pub(crate) const OFF_PAGE_NO: usize = 4;
pub(crate) const OFF_LSN: usize = 8;
pub(crate) const OFF_MAGIC: usize = 16;
pub(crate) const OFF_FORMAT: usize = 18;
pub(crate) const OFF_SIZE_LOG2: usize = 19;
pub(crate) const OFF_FILE_IDENTITY: usize = 20;

const _: () = assert!(OFF_FILE_IDENTITY + 4 == PAGE_HEADER_SIZE);
const _: () = assert!(PAGE_FORMAT_VERSION <= u8::MAX as u16);
const _: () = assert!(
    PAGE_HEADER_SIZE.is_multiple_of(8),
    "user region must stay 8-byte aligned"
);

/// A validated page size: a power of two from 4 KiB to 64 KiB.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PageSize(u32);

impl PageSize {
    /// The smallest page size (and the default).
    pub const MIN: usize = 4096;
    /// The largest page size.
    pub const MAX: usize = 65536;
    /// 4 KiB, the default.
    pub const DEFAULT: PageSize = PageSize(4096);

    /// Validates `bytes`; `None` unless it is a power of two in `MIN..=MAX`.
    pub const fn new(bytes: usize) -> Option<PageSize> {
        if bytes.is_power_of_two() && bytes >= Self::MIN && bytes <= Self::MAX {
            Some(PageSize(bytes as u32))
        } else {
            None
        }
    }

    /// The page size whose log2 is `log2`, if valid.
    pub const fn from_log2(log2: u8) -> Option<PageSize> {
        if log2 >= 12 && log2 <= 16 {
            PageSize::new(1 << log2)
        } else {
            None
        }
    }

    /// log2 of the page size, as the page header stores it.
    #[inline]
    pub const fn log2(self) -> u8 {
        self.0.trailing_zeros() as u8
    }

    /// The page size in bytes.
    #[inline]
    pub const fn bytes(self) -> usize {
        self.0 as usize
    }

    /// Bytes of a page that belong to the caller (the page minus the pool header).
    #[inline]
    pub const fn user_bytes(self) -> usize {
        self.0 as usize - PAGE_HEADER_SIZE
    }

    /// Byte offset of page `page_no` in its file.
    #[inline]
    pub const fn offset_of(self, page_no: PageNo) -> u64 {
        page_no as u64 * self.0 as u64
    }
}

impl Default for PageSize {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Reads a little-endian `u32` at `off` of a header.
#[inline]
pub(crate) fn get_u32(page: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(page[off..off + 4].try_into().expect("4 bytes"))
}

/// Reads a little-endian `u64` at `off` of a header.
#[inline]
pub(crate) fn get_u64(page: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(page[off..off + 8].try_into().expect("8 bytes"))
}

/// Reads a little-endian `u16` at `off` of a header.
#[inline]
pub(crate) fn get_u16(page: &[u8], off: usize) -> u16 {
    u16::from_le_bytes(page[off..off + 2].try_into().expect("2 bytes"))
}

/// The header fields of a page image, decoded without verifying anything.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PageHeader {
    /// Stored checksum.
    pub checksum: u32,
    /// Stored page number.
    pub page_no: PageNo,
    /// Stored page LSN.
    pub lsn: Lsn,
    /// Stored magic; [`PAGE_MAGIC`] on a bufpool page.
    pub magic: u16,
    /// Stored format version (byte 18).
    pub format: u16,
    /// Stored log2 of the page size the page was written with (byte 19).
    pub page_size_log2: u8,
    /// Stored file identity (0: written for an unbound file).
    pub file_identity: u32,
}

impl PageHeader {
    /// The page size the header names, if it names a valid one.
    pub fn page_size(&self) -> Option<usize> {
        PageSize::from_log2(self.page_size_log2).map(PageSize::bytes)
    }
}

impl PageHeader {
    /// Decodes the header of `page`; `None` if `page` is shorter than a header.
    pub fn decode(page: &[u8]) -> Option<PageHeader> {
        if page.len() < PAGE_HEADER_SIZE {
            return None;
        }
        Some(PageHeader {
            checksum: get_u32(page, OFF_CHECKSUM),
            page_no: get_u32(page, OFF_PAGE_NO),
            lsn: get_u64(page, OFF_LSN),
            magic: get_u16(page, OFF_MAGIC),
            format: page[OFF_FORMAT] as u16,
            page_size_log2: page[OFF_SIZE_LOG2],
            file_identity: get_u32(page, OFF_FILE_IDENTITY),
        })
    }
}

/// Alignment of every buffer the pool hands to storage: enough for O_DIRECT on any common device.
pub const IO_ALIGN: usize = 4096;

/// The transparent huge page size the pool's large allocations are aligned to and advised for (x86-64 and arm64
/// with 4 KiB base pages): frame memory (`frame.rs`) and [`HugeSlice`]s.
pub(crate) const HUGE_PAGE: usize = 2 << 20;

/// An allocation sized by the caller's configuration that the allocator refused, or whose size overflows
/// (`Builder::build` turns it into `Error::OutOfMemory`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AllocFailed;

/// A zero-initialised heap buffer aligned for direct I/O. Used for frame memory (one allocation for the whole
/// pool) and for private page copies written back.
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    layout: Layout,
}

// SAFETY: AlignedBuf owns its allocation exclusively, like a Box<[u8]>; shared access only hands out `&[u8]`.
unsafe impl Send for AlignedBuf {}
// SAFETY: as above: `&AlignedBuf` only allows reads through `Deref`, or raw pointers whose users uphold their own
// synchronisation (see `frame.rs`).
unsafe impl Sync for AlignedBuf {}

/// Bytes a thread of [`zero_in_parallel`] zeroes at least: an allocation smaller than twice this is zeroed by the
/// calling thread alone. (Under Miri a few pages, so that its test takes the threads' path at a size Miri runs.)
#[cfg(not(miri))]
const ZERO_SHARE_MIN: usize = 64 << 20;
#[cfg(miri)]
const ZERO_SHARE_MIN: usize = 4 << 12;

/// Zeroes the `len` bytes at `raw` (an allocation just made, not yet shared), split between up to as many threads
/// as the machine runs at once, each at least [`ZERO_SHARE_MIN`]. Frame memory is touched whole at a pool's build
/// (left for the first use to fault in, it slowed TPC-C's runs 5-13%: BENCHMARKS.md, "Session 53"), and the
/// kernel's page faults, which zero each page before this zeroes it again, are most of that: 0.4-2 s a GiB in one
/// thread on this project's VMs, where a restart's pool waits for it (BENCHMARKS.md, "Session 54"). MySQL
/// initialises its buffer pool's chunks in parallel threads for the same reason.
fn zero_in_parallel(raw: *mut u8, len: usize) {
    // SAFETY: `raw` is the start of an allocation of `len` bytes that the caller just made and shares with nothing
    // yet, so the slice is the only reference to them while it lives; as `MaybeUninit` bytes it claims nothing of
    // their contents.
    let bytes = unsafe { std::slice::from_raw_parts_mut(raw.cast::<MaybeUninit<u8>>(), len) };
    // (`write_bytes`, not `fill`: the same `memset` in a build, an intrinsic under Miri where a loop of 2 MiB is
    // minutes.)
    // SAFETY: `part` is an exclusively borrowed range of bytes; writing zeros over it initialises them.
    let zero = |part: &mut [MaybeUninit<u8>]| unsafe { std::ptr::write_bytes(part.as_mut_ptr(), 0, part.len()) };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(len / ZERO_SHARE_MIN)
        .max(1);
    if threads == 1 {
        return zero(bytes);
    }
    let mut refused = false;
    std::thread::scope(|scope| {
        let mut parts = bytes.chunks_mut(len.div_ceil(threads));
        let first = parts.next();
        for part in parts {
            // A thread the system refuses (a limit on threads, no memory for a stack) is no panic: see below.
            refused |= std::thread::Builder::new()
                .spawn_scoped(scope, move || zero(part))
                .is_err();
        }
        if let Some(first) = first {
            zero(first);
        }
    });
    if refused {
        // A refused thread's part went with its closure: everything again, on this thread.
        zero(bytes);
    }
}

impl AlignedBuf {
    /// A zeroed buffer of `len` bytes aligned to [`IO_ALIGN`]. `len` is rounded up to a non-zero multiple of it.
    pub fn zeroed(len: usize) -> AlignedBuf {
        Self::zeroed_aligned(len, IO_ALIGN)
    }

    /// A zeroed buffer of `len` bytes aligned to `align` (a power of two, at least [`IO_ALIGN`]).
    pub fn zeroed_aligned(len: usize, align: usize) -> AlignedBuf {
        Self::zeroed_with(len, align, false)
    }

    /// A zeroed buffer of `len` bytes aligned to `align`, backed by transparent huge pages where the kernel
    /// grants them (Linux `MADV_HUGEPAGE`, given before the memory is first touched: advice given after zeroing
    /// finds it already mapped in base pages). For frame memory, where a TLB miss per page access would
    /// otherwise join every cache miss.
    pub fn zeroed_huge(len: usize, align: usize) -> AlignedBuf {
        Self::zeroed_with(len, align, true)
    }

    fn zeroed_with(len: usize, align: usize, huge: bool) -> AlignedBuf {
        match Self::try_zeroed_with(len, align, huge) {
            Ok(buf) => buf,
            Err(Some(layout)) => alloc::handle_alloc_error(layout),
            Err(None) => panic!("{len} bytes aligned to {align} is not a size an allocation can have"),
        }
    }

    /// As [`AlignedBuf::zeroed_aligned`], but a size the allocator refuses (or no layout can describe) is an
    /// error, not an abort: for allocations sized by the caller's configuration (`Builder::build`).
    pub(crate) fn try_zeroed_aligned(len: usize, align: usize) -> Result<AlignedBuf, AllocFailed> {
        Self::try_zeroed_with(len, align, false).map_err(|_| AllocFailed)
    }

    /// As [`AlignedBuf::zeroed_huge`], but fallible like [`AlignedBuf::try_zeroed_aligned`].
    pub(crate) fn try_zeroed_huge(len: usize, align: usize) -> Result<AlignedBuf, AllocFailed> {
        Self::try_zeroed_with(len, align, true).map_err(|_| AllocFailed)
    }

    /// The allocation, or the layout the allocator refused (`None`: the size has no layout).
    fn try_zeroed_with(len: usize, align: usize, huge: bool) -> Result<AlignedBuf, Option<Layout>> {
        let align = align.max(IO_ALIGN);
        let len = len.max(1).checked_next_multiple_of(IO_ALIGN).ok_or(None)?;
        let layout = Layout::from_size_align(len, align).map_err(|_| None)?;
        let raw = if huge {
            // SAFETY: layout has a non-zero size (len >= IO_ALIGN).
            let raw = unsafe { alloc::alloc(layout) };
            if !raw.is_null() {
                #[cfg(all(target_os = "linux", not(miri)))]
                // SAFETY: the range is exactly the allocation just made; MADV_HUGEPAGE is advice that never changes
                // contents or validity. A failure (no THP support) is harmless and ignored.
                unsafe {
                    libc::madvise(raw.cast(), len, libc::MADV_HUGEPAGE);
                }
                zero_in_parallel(raw, len);
            }
            raw
        } else {
            // SAFETY: layout has a non-zero size (len >= IO_ALIGN).
            unsafe { alloc::alloc_zeroed(layout) }
        };
        let ptr = NonNull::new(raw).ok_or(Some(layout))?;
        Ok(AlignedBuf { ptr, layout })
    }

    /// Length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.layout.size()
    }

    /// Never empty; present for the `len` convention.
    #[inline]
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Raw pointer to the first byte, for code that synchronises access itself (frame memory).
    #[inline]
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }
}

impl Deref for AlignedBuf {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        // SAFETY: ptr is valid for layout.size() initialised (zeroed) bytes for the lifetime of self.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.layout.size()) }
    }
}

impl DerefMut for AlignedBuf {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in deref, and &mut self guarantees exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.layout.size()) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: ptr was allocated with exactly this layout in zeroed_aligned.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

impl fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlignedBuf").field("len", &self.len()).finish()
    }
}

/// A fixed-length array of `T` whose memory is advised for transparent huge pages once it spans at least one
/// (the frame headers and the page-table buckets). At 1 GiB of frames those arrays are 16 MiB and 1 MiB: in base
/// pages, a random hit would add a TLB miss (and a page walk) to each of its two bookkeeping reads, where the
/// frame bytes themselves already sit in huge pages. `Box<[T]>` cannot carry the 2 MiB alignment that makes the
/// advice take (its deallocation uses `T`'s layout), hence this small owner.
pub(crate) struct HugeSlice<T> {
    buf: AlignedBuf,
    len: usize,
    _owns: std::marker::PhantomData<T>,
}

/// Arrays at least this large are rounded up to whole huge pages (wasting under half of what they use); smaller
/// ones stay in ordinary pages.
const HUGE_SLICE_MIN: usize = 512 << 10;

impl<T> HugeSlice<T> {
    /// `len` elements made by `make(i)`, in order.
    pub(crate) fn new(len: usize, make: impl FnMut(usize) -> T) -> HugeSlice<T> {
        Self::try_new(len, make).expect("array size overflows or memory is exhausted")
    }

    /// As [`HugeSlice::new`], but an array the allocator refuses (or whose size overflows) is an error.
    pub(crate) fn try_new(len: usize, mut make: impl FnMut(usize) -> T) -> Result<HugeSlice<T>, AllocFailed> {
        assert!(
            std::mem::align_of::<T>() <= IO_ALIGN,
            "HugeSlice element alignment above a page"
        );
        let bytes = len.checked_mul(std::mem::size_of::<T>()).ok_or(AllocFailed)?;
        let buf = if bytes >= HUGE_SLICE_MIN {
            AlignedBuf::try_zeroed_huge(bytes.checked_next_multiple_of(HUGE_PAGE).ok_or(AllocFailed)?, HUGE_PAGE)?
        } else {
            AlignedBuf::try_zeroed_aligned(bytes, IO_ALIGN)?
        };
        let base = buf.as_ptr().cast::<T>();
        for i in 0..len {
            // SAFETY: the buffer holds at least `len * size_of::<T>()` bytes and is aligned to IO_ALIGN, which is
            // at least T's alignment (asserted above), so slot i is in bounds and aligned; each slot is written
            // once, before any read. If `make` panics, the slots written so far are leaked (never dropped), which
            // is safe.
            unsafe { base.add(i).write(make(i)) };
        }
        Ok(HugeSlice {
            buf,
            len,
            _owns: std::marker::PhantomData,
        })
    }
}

impl<T> Deref for HugeSlice<T> {
    type Target = [T];
    #[inline]
    fn deref(&self) -> &[T] {
        // SAFETY: `new` initialised `len` consecutive, aligned `T`s at the start of the buffer, which lives as long
        // as self.
        unsafe { std::slice::from_raw_parts(self.buf.as_ptr().cast::<T>(), self.len) }
    }
}

impl<T> std::fmt::Debug for HugeSlice<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Its length only: the arrays hold one element a frame (millions).
        f.debug_struct("HugeSlice")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl<T> Drop for HugeSlice<T> {
    fn drop(&mut self) {
        // SAFETY: the `len` elements were initialised by `new` and are dropped exactly once, here; the buffer is
        // freed afterwards by AlignedBuf's own drop.
        unsafe {
            std::ptr::drop_in_place(std::ptr::slice_from_raw_parts_mut(
                self.buf.as_ptr().cast::<T>(),
                self.len,
            ))
        };
    }
}

// SAFETY: HugeSlice owns its elements like a Box<[T]>: sending or sharing it sends or shares the `T`s.
unsafe impl<T: Send> Send for HugeSlice<T> {}
// SAFETY: as above; `&HugeSlice<T>` only gives `&[T]`.
unsafe impl<T: Sync> Sync for HugeSlice<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_id_packs_file_high() {
        let p = PageId::new(FileId(7), 0xdead_beef);
        assert_eq!(p.file(), FileId(7));
        assert_eq!(p.page_no(), 0xdead_beef);
        assert_eq!(u64::from(p), (7u64 << 32) | 0xdead_beef);
        assert_eq!(PageId::from(u64::from(p)), p);
        assert!(PageId::new(FileId(1), 5) < PageId::new(FileId(2), 0));
    }

    #[test]
    fn page_sizes() {
        assert!(PageSize::new(4096).is_some());
        assert!(PageSize::new(65536).is_some());
        assert!(PageSize::new(2048).is_none());
        assert!(PageSize::new(131072).is_none());
        assert!(PageSize::new(5000).is_none());
        assert_eq!(PageSize::DEFAULT.user_bytes(), 4096 - 24);
        assert_eq!(PageSize::DEFAULT.offset_of(3), 12288);
    }

    /// Frame memory past two shares is zeroed by several threads (on a machine that runs more than one): every
    /// byte of a buffer that held other bytes, the last share shorter than the rest, comes out zero.
    #[test]
    fn zeroing_in_parallel_zeroes_every_byte() {
        let len = 2 * ZERO_SHARE_MIN + 12_345;
        let mut buf = vec![0xab_u8; len];
        zero_in_parallel(buf.as_mut_ptr(), len);
        let left = buf.chunks(1 << 20).position(|c| c.iter().any(|&b| b != 0));
        assert_eq!(left, None, "a MiB not zeroed");
    }

    #[test]
    fn huge_slice_holds_its_elements_and_drops_each_once() {
        use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        struct Counted(u64);
        impl Drop for Counted {
            fn drop(&mut self) {
                DROPS.fetch_add(1, Relaxed);
            }
        }
        // Small (ordinary pages) and large enough to be rounded up to a huge page (512 KiB of 16-byte elements).
        for len in [3usize, (512 << 10) / 16 + 1] {
            DROPS.store(0, Relaxed);
            let s = HugeSlice::new(len, |i| (Counted(i as u64 * 7), [0u8; 8]));
            assert_eq!(s.len(), len);
            assert!(s.iter().enumerate().all(|(i, (c, _))| c.0 == i as u64 * 7));
            if len > 3 {
                assert_eq!(s.as_ptr() as usize % HUGE_PAGE, 0);
            }
            drop(s);
            assert_eq!(DROPS.load(Relaxed), len);
        }
    }

    #[test]
    fn aligned_buf_is_aligned_and_zeroed() {
        let mut b = AlignedBuf::zeroed(100);
        assert_eq!(b.len(), IO_ALIGN);
        assert_eq!(b.as_ptr() as usize % IO_ALIGN, 0);
        assert!(b.iter().all(|&x| x == 0));
        b[5] = 1;
        assert_eq!(b[5], 1);
        // The huge-page variant (allocated uninitialised, advised, then zeroed) gives the same contract.
        let mut h = AlignedBuf::zeroed_huge(3 * IO_ALIGN + 1, 2 * IO_ALIGN);
        assert_eq!(h.len(), 4 * IO_ALIGN);
        assert_eq!(h.as_ptr() as usize % (2 * IO_ALIGN), 0);
        assert!(h.iter().all(|&x| x == 0));
        h[4 * IO_ALIGN - 1] = 7;
        assert_eq!(h[4 * IO_ALIGN - 1], 7);
    }
}
