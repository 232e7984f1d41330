//! The page self-check every benchmark access verifies, so that each run is also a consistency check.
//!
//! Owns the layout of the six little-endian `u64` words written into a page's *user region* (the bytes a system
//! hands to its caller: bufpool's and page-db's payload after their headers, the whole 4 KiB page for raw files):
//!
//! | user bytes              | word    | value                                                     |
//! |-------------------------|---------|-----------------------------------------------------------|
//! | `0..8`                  | page    | the page's own number                                     |
//! | `8..16`                 | tag     | [`tag`]`(seed, page)`: catches a page from another run    |
//! | `16..24`                | head    | write counter, bumped by every benchmark write            |
//! | [`spread_offsets`]`[0]` | mid0    | [`spread_value`]`(tag, 0)`, about a third into the region |
//! | [`spread_offsets`]`[1]` | mid1    | [`spread_value`]`(tag, 1)`, about two thirds into it      |
//! | `len-8..len`            | tail    | copy of `head`, written after it                          |
//!
//! Invariant checked on every access: `page`, `tag` and the two spread words match what was prepared, and, for a
//! read made under a latch (or validated optimistically), `head == tail`: a torn or lost write-back shows up as a
//! mismatch. The words sit on four cache lines spread over the page (first, about a third, about two thirds,
//! last), so an access touches four lines no two of which are neighbours: a hit on a page out of the CPU's caches
//! pays for several independent line fetches, as a real reader of a page's slots does, and the adjacent-line
//! prefetcher cannot bring the next word's line for free. Every system reads the same four words on every access.

use anyhow::Result;

/// Offset of the page-number word.
pub const OFF_PAGE: usize = 0;
/// Offset of the tag word.
pub const OFF_TAG: usize = 8;
/// Offset of the head counter word.
pub const OFF_HEAD: usize = 16;
/// Bytes from the end of the user region to the tail counter word.
pub const TAIL_FROM_END: usize = 8;
/// The smallest user region the layout fits in (the spread words must not overlap the others).
pub const MIN_USER_BYTES: usize = 192;

/// Offsets of the two spread words in a user region of `len` bytes: about a third and two thirds in, 8-aligned.
#[inline]
pub const fn spread_offsets(len: usize) -> [usize; 2] {
    [(len / 3) & !7, (2 * len / 3) & !7]
}

/// The value of spread word `k` (0 or 1) of a page whose tag is `tag`.
#[inline]
pub fn spread_value(tag: u64, k: usize) -> u64 {
    tag.rotate_left(17 + 16 * k as u32) ^ 0x5eed_5eed_5eed_5eed
}

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
    /// Stored spread words.
    pub mid: [u64; 2],
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
        let [m0, m1] = spread_offsets(user.len());
        Words {
            page: get(user, OFF_PAGE),
            tag: get(user, OFF_TAG),
            head: get(user, OFF_HEAD),
            mid: [get(user, m0), get(user, m1)],
            tail: get(user, user.len() - TAIL_FROM_END),
        }
    }

    /// Checks the words against what page `page` of the run seeded `seed` must hold. `counters` also requires
    /// `head == tail` (only meaningful when the read was latched or validated).
    #[inline]
    pub fn verify(&self, seed: u64, page: u32, counters: bool) -> Result<()> {
        let t = tag(seed, page);
        if self.page != u64::from(page)
            || self.tag != t
            || self.mid != [spread_value(t, 0), spread_value(t, 1)]
            || (counters && self.head != self.tail)
        {
            return Err(mismatch(*self, seed, page));
        }
        Ok(())
    }
}

#[cold]
#[inline(never)]
fn mismatch(w: Words, seed: u64, page: u32) -> anyhow::Error {
    anyhow::anyhow!(
        "self-check mismatch on page {page}: stored page {} tag {:#018x} (expected {:#018x}) spread {:#018x} \
         {:#018x} head {} tail {}",
        w.page,
        w.tag,
        tag(seed, page),
        w.mid[0],
        w.mid[1],
        w.head,
        w.tail
    )
}

/// Writes a fresh self-check (counters zero) into `user`.
pub fn init(user: &mut [u8], seed: u64, page: u32) {
    debug_assert!(user.len() >= MIN_USER_BYTES);
    let t = tag(seed, page);
    put(user, OFF_PAGE, u64::from(page));
    put(user, OFF_TAG, t);
    put(user, OFF_HEAD, 0);
    for (k, off) in spread_offsets(user.len()).into_iter().enumerate() {
        put(user, off, spread_value(t, k));
    }
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
        assert!(verify(&[0u8; 256], 7, 0).is_err(), "a zeroed page fails");
    }

    #[test]
    fn the_words_sit_on_four_separate_lines_and_the_spread_ones_are_checked() {
        for len in [4096usize, 4072, 4064, MIN_USER_BYTES] {
            let [m0, m1] = spread_offsets(len);
            let lines = [OFF_PAGE / 64, m0 / 64, m1 / 64, (len - TAIL_FROM_END) / 64];
            if len >= 4064 {
                // On a 4 KiB page, no two words share a line or sit on neighbouring lines.
                assert!(lines.windows(2).all(|w| w[1] > w[0] + 1), "{len}: {lines:?}");
            }
            assert!(
                OFF_HEAD + 8 <= m0 && m0 + 8 <= m1 && m1 + 8 <= len - TAIL_FROM_END,
                "{len}"
            );
        }
        let mut page = vec![0u8; 4096];
        init(&mut page, 3, 9);
        verify(&page, 3, 9).unwrap();
        let [m0, m1] = spread_offsets(page.len());
        for off in [m0, m1] {
            let mut bad = page.clone();
            bad[off + 3] ^= 0x10;
            assert!(verify(&bad, 3, 9).is_err(), "a damaged spread word at {off} fails");
        }
    }
}
