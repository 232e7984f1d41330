//! The page self-check every benchmark access verifies, so that each run is also a consistency check.
//!
//! Owns the layout of the four little-endian `u64` words written into a page's *user region* (the bytes a system
//! hands to its caller: bufpool's and page-db's payload after their headers, the whole 4 KiB page for raw files):
//!
//! | user bytes          | word    | value                                                     |
//! |---------------------|---------|-----------------------------------------------------------|
//! | `0..8`              | page    | the page's own number                                     |
//! | `8..16`             | tag     | [`tag`]`(seed, page)`: catches a page from another run    |
//! | `16..24`            | head    | write counter, bumped by every benchmark write            |
//! | `len-8..len`        | tail    | copy of `head`, written after it                          |
//!
//! Invariant checked on every access: `page` and `tag` match what was prepared, and, for a read made under a
//! latch (or validated optimistically), `head == tail`: a torn or lost write-back shows up as a mismatch. The two
//! counter words sit at both ends of the region so the check touches the first and last cache line of the page.

use anyhow::Result;

/// Offset of the page-number word.
pub const OFF_PAGE: usize = 0;
/// Offset of the tag word.
pub const OFF_TAG: usize = 8;
/// Offset of the head counter word.
pub const OFF_HEAD: usize = 16;
/// Bytes from the end of the user region to the tail counter word.
pub const TAIL_FROM_END: usize = 8;
/// The smallest user region the layout fits in.
pub const MIN_USER_BYTES: usize = 32;

/// The tag of `page` for the run seeded with `seed`: a SplitMix64 finaliser of both.
#[inline]
pub fn tag(seed: u64, page: u32) -> u64 {
    let mut z = seed ^ (u64::from(page).wrapping_add(1)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The four words of a page's self-check, as read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Words {
    /// Stored page number.
    pub page: u64,
    /// Stored tag.
    pub tag: u64,
    /// Stored head counter.
    pub head: u64,
    /// Stored tail counter.
    pub tail: u64,
}

#[inline]
fn get(b: &[u8], off: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(w)
}

#[inline]
fn put(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

impl Words {
    /// Reads the words from a user region (at least [`MIN_USER_BYTES`] long).
    #[inline]
    pub fn read(user: &[u8]) -> Words {
        Words {
            page: get(user, OFF_PAGE),
            tag: get(user, OFF_TAG),
            head: get(user, OFF_HEAD),
            tail: get(user, user.len() - TAIL_FROM_END),
        }
    }

    /// Checks the words against what page `page` of the run seeded `seed` must hold. `counters` also requires
    /// `head == tail` (only meaningful when the read was latched or validated).
    #[inline]
    pub fn verify(&self, seed: u64, page: u32, counters: bool) -> Result<()> {
        if self.page != u64::from(page) || self.tag != tag(seed, page) || (counters && self.head != self.tail) {
            return Err(mismatch(*self, seed, page));
        }
        Ok(())
    }
}

#[cold]
#[inline(never)]
fn mismatch(w: Words, seed: u64, page: u32) -> anyhow::Error {
    anyhow::anyhow!(
        "self-check mismatch on page {page}: stored page {} tag {:#018x} (expected {:#018x}) head {} tail {}",
        w.page,
        w.tag,
        tag(seed, page),
        w.head,
        w.tail
    )
}

/// Writes a fresh self-check (counters zero) into `user`.
pub fn init(user: &mut [u8], seed: u64, page: u32) {
    debug_assert!(user.len() >= MIN_USER_BYTES);
    put(user, OFF_PAGE, u64::from(page));
    put(user, OFF_TAG, tag(seed, page));
    put(user, OFF_HEAD, 0);
    let end = user.len() - TAIL_FROM_END;
    put(user, end, 0);
}

/// Verifies a latched user region, then bumps its counters (a benchmark write).
#[inline]
pub fn verify_and_bump(user: &mut [u8], seed: u64, page: u32) -> Result<()> {
    let w = Words::read(user);
    w.verify(seed, page, true)?;
    let next = w.head.wrapping_add(1);
    put(user, OFF_HEAD, next);
    let end = user.len() - TAIL_FROM_END;
    put(user, end, next);
    Ok(())
}

/// Verifies a latched user region.
#[inline]
pub fn verify(user: &[u8], seed: u64, page: u32) -> Result<()> {
    Words::read(user).verify(seed, page, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_detects_damage() {
        let mut page = vec![0u8; 4072];
        init(&mut page, 7, 42);
        verify(&page, 7, 42).unwrap();
        verify_and_bump(&mut page, 7, 42).unwrap();
        assert_eq!(Words::read(&page).head, 1);
        verify(&page, 7, 42).unwrap();
        assert!(verify(&page, 8, 42).is_err(), "another seed");
        assert!(verify(&page, 7, 43).is_err(), "another page");
        let n = page.len();
        page[n - 1] ^= 1;
        assert!(verify(&page, 7, 42).is_err(), "torn counters");
        assert!(Words::read(&page).verify(7, 42, false).is_ok());
        assert!(verify(&[0u8; 64], 7, 0).is_err(), "a zeroed page fails");
    }
}
