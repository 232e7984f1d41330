//! Page checksums: stamp a page image before it is written, verify it after it is read.
//!
//! Owns the rule "a page is handed out only if it verifies": [`verify`] returns the typed reason otherwise.
//! CRC-32C (Castagnoli, hardware-accelerated through the `crc32c` crate) covers bytes `4..page_size`, which
//! include the page's own number and LSN, so a page written to the wrong offset fails as surely as a flipped bit.
//! CRC-32C has Hamming distance 4 for messages up to 2^31 bits (Koopman's CRC tables), so every error of 1 to 3
//! bits in a page of at most 64 KiB is detected, and so is every burst of up to 32 bits; the reliability tests
//! check this on real pages rather than trusting the prose.

use crate::error::CorruptReason;
use crate::page::{
    get_u16, get_u32, PageNo, PageSize, OFF_CHECKSUM, OFF_FILE_IDENTITY, OFF_FORMAT, OFF_LSN, OFF_MAGIC, OFF_PAGE_NO,
    OFF_SIZE_LOG2, PAGE_FORMAT_VERSION, PAGE_HEADER_SIZE, PAGE_MAGIC,
};

/// What reading a page image found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Verified {
    /// A valid page.
    Valid,
    /// All bytes zero: never written.
    Fresh,
}

/// Computes the checksum of a page image (over everything after the checksum field; 0 for an image shorter than
/// the checksum field).
#[inline]
pub fn compute(page: &[u8]) -> u32 {
    page.get(OFF_CHECKSUM + 4..).map_or(0, crc32c::crc32c)
}

/// Writes the header (page number, magic, format, page size) and checksum into `page` for an unbound file
/// (file identity 0), keeping the LSN already there. See [`stamp_for`].
pub fn stamp(page: &mut [u8], page_no: PageNo) {
    stamp_for(page, page_no, 0);
}

/// Writes the header (page number, magic, format, log2 of the image's length, `file_identity`) and checksum into
/// `page`, keeping the LSN already there. An image shorter than [`PAGE_HEADER_SIZE`] is left unchanged (and
/// [`verify`] rejects it).
pub fn stamp_for(page: &mut [u8], page_no: PageNo, file_identity: u32) {
    if page.len() < PAGE_HEADER_SIZE {
        return;
    }
    page[OFF_PAGE_NO..OFF_PAGE_NO + 4].copy_from_slice(&page_no.to_le_bytes());
    page[OFF_MAGIC..OFF_MAGIC + 2].copy_from_slice(&PAGE_MAGIC.to_le_bytes());
    page[OFF_FORMAT] = PAGE_FORMAT_VERSION as u8;
    page[OFF_SIZE_LOG2] = size_log2(page.len());
    page[OFF_FILE_IDENTITY..OFF_FILE_IDENTITY + 4].copy_from_slice(&file_identity.to_le_bytes());
    let crc = compute(page);
    page[OFF_CHECKSUM..OFF_CHECKSUM + 4].copy_from_slice(&crc.to_le_bytes());
}

/// The size byte for an image of `len` bytes: its log2 when `len` is a power of two, else 0 (no valid size).
fn size_log2(len: usize) -> u8 {
    if len.is_power_of_two() {
        len.trailing_zeros() as u8
    } else {
        0
    }
}

/// Verifies a page image read from the offset of `page_no` of an unbound file: as [`verify_for`] without the
/// file identity check (any identity is accepted).
pub fn verify(page: &[u8], page_no: PageNo) -> Result<Verified, CorruptReason> {
    verify_for(page, page_no, None)
}

/// Verifies a page image read from the offset of `page_no` of a file whose identity is `file_identity` (`None`:
/// unbound, any identity accepted).
///
/// An all-zero image is [`Verified::Fresh`]. Anything else must carry a matching checksum, bufpool's magic and
/// format, the image's own length as page size, the file's identity and `page_no` itself. A checksum mismatch on
/// a page whose magic and format are intact and whose size byte names another valid page size is reported as
/// [`CorruptReason::WrongPageSize`]: a pool of the wrong page size, not a damaged page.
pub fn verify_for(page: &[u8], page_no: PageNo, file_identity: Option<u32>) -> Result<Verified, CorruptReason> {
    if page.len() < PAGE_HEADER_SIZE {
        return Err(CorruptReason::TooShort { len: page.len() });
    }
    let stored = get_u32(page, OFF_CHECKSUM);
    let computed = compute(page);
    let (magic, format) = (get_u16(page, OFF_MAGIC), page[OFF_FORMAT] as u16);
    let size_byte = page[OFF_SIZE_LOG2];
    let wrong_size = (size_byte != size_log2(page.len()))
        .then(|| PageSize::from_log2(size_byte))
        .flatten()
        .map(|other| CorruptReason::WrongPageSize {
            stored: other.bytes(),
            expected: page.len(),
        });
    if stored != computed {
        if stored == 0 && is_all_zero(page) {
            return Ok(Verified::Fresh);
        }
        if magic == PAGE_MAGIC && format == PAGE_FORMAT_VERSION {
            if let Some(reason) = wrong_size {
                return Err(reason);
            }
        }
        // A header that is neither bufpool's nor zeroed (a torn first sector) is some other file's bytes: say so
        // rather than "checksum mismatch". Both fields must differ, so a bit flip in one stays a mismatch.
        if magic != PAGE_MAGIC && format != PAGE_FORMAT_VERSION && (magic, format) != (0, 0) {
            return Err(CorruptReason::BadMagic { magic, format });
        }
        return Err(CorruptReason::ChecksumMismatch { stored, computed });
    }
    if magic != PAGE_MAGIC || format != PAGE_FORMAT_VERSION {
        // A valid CRC over a zero page is not 0, so an all-zero page never gets here.
        return Err(CorruptReason::BadMagic { magic, format });
    }
    if let Some(reason) = wrong_size {
        return Err(reason);
    }
    let stored_identity = get_u32(page, OFF_FILE_IDENTITY);
    if let Some(expected) = file_identity {
        if stored_identity != expected {
            return Err(CorruptReason::ForeignFile {
                stored: stored_identity,
                expected,
            });
        }
    }
    let stored_no = get_u32(page, OFF_PAGE_NO);
    if stored_no != page_no {
        return Err(CorruptReason::WrongPageNumber { stored: stored_no });
    }
    Ok(Verified::Valid)
}

/// The LSN stored in a page image.
#[inline]
pub fn lsn_of(page: &[u8]) -> u64 {
    page.get(OFF_LSN..OFF_LSN + 8)
        .map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
}

fn is_all_zero(page: &[u8]) -> bool {
    // Word-at-a-time; pages are 4 KiB..64 KiB so this is a few hundred iterations at most.
    let (head, words, tail) = {
        // SAFETY: every bit pattern is a valid u64, and align_to only reinterprets the aligned middle part.
        unsafe { page.align_to::<u64>() }
    };
    head.iter().all(|&b| b == 0) && words.iter().all(|&w| w == 0) && tail.iter().all(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(no: PageNo, fill: u8) -> Vec<u8> {
        let mut p = vec![fill; 4096];
        p[..24].fill(0);
        stamp(&mut p, no);
        p
    }

    #[test]
    fn stamped_page_verifies() {
        assert_eq!(verify(&page(9, 0xab), 9), Ok(Verified::Valid));
    }

    #[test]
    fn zero_page_is_fresh() {
        assert_eq!(verify(&vec![0u8; 4096], 3), Ok(Verified::Fresh));
    }

    #[test]
    fn bit_flip_is_caught() {
        let mut p = page(1, 7);
        p[1000] ^= 0x10;
        assert!(matches!(verify(&p, 1), Err(CorruptReason::ChecksumMismatch { .. })));
    }

    #[test]
    fn wrong_offset_is_caught() {
        let p = page(4, 7);
        assert_eq!(verify(&p, 5), Err(CorruptReason::WrongPageNumber { stored: 4 }));
    }

    #[test]
    fn short_images_are_corrupt_not_a_panic() {
        for len in [0, 1, 4, 23] {
            assert_eq!(verify(&vec![0u8; len], 0), Err(CorruptReason::TooShort { len }));
            let mut p = vec![1u8; len];
            stamp(&mut p, 0);
            assert_eq!(p, vec![1u8; len], "a short image is left unchanged");
            if len < 16 {
                assert_eq!(lsn_of(&p), 0);
            }
        }
    }

    #[test]
    fn foreign_bytes_are_not_a_bufpool_page() {
        // Text, as a file that was never a bufpool file starts.
        let text: Vec<u8> = b"hello, this is not a page; "
            .iter()
            .copied()
            .cycle()
            .take(4096)
            .collect();
        assert!(matches!(verify(&text, 0), Err(CorruptReason::BadMagic { .. })));
        let reason = verify(&text, 0).unwrap_err().to_string();
        assert!(reason.starts_with("not a bufpool page"), "{reason}");
        // A bufpool page whose header sector is zeroed (torn) or whose magic took a bit flip is still a mismatch.
        let mut p = page(2, 7);
        p[..24].fill(0);
        assert!(matches!(verify(&p, 2), Err(CorruptReason::ChecksumMismatch { .. })));
        let mut p = page(2, 7);
        p[OFF_MAGIC] ^= 0x40;
        assert!(matches!(verify(&p, 2), Err(CorruptReason::ChecksumMismatch { .. })));
    }

    #[test]
    fn page_size_and_file_identity_are_checked() {
        let mut p = vec![7u8; 8192];
        p[..24].fill(0);
        stamp_for(&mut p, 3, 0xfeed);
        assert_eq!(verify_for(&p, 3, Some(0xfeed)), Ok(Verified::Valid));
        assert_eq!(
            verify(&p, 3),
            Ok(Verified::Valid),
            "an unbound reader accepts any identity"
        );
        assert_eq!(
            verify_for(&p, 3, Some(0xbeef)),
            Err(CorruptReason::ForeignFile {
                stored: 0xfeed,
                expected: 0xbeef
            })
        );
        // A 4 KiB pool reads the first half of an 8 KiB page: both sizes named.
        assert_eq!(
            verify(&p[..4096], 3),
            Err(CorruptReason::WrongPageSize {
                stored: 8192,
                expected: 4096
            })
        );
    }

    #[test]
    fn zeroed_checksum_on_nonzero_page_is_corrupt() {
        let mut p = page(1, 7);
        p[..4].fill(0);
        assert!(verify(&p, 1).is_err());
    }
}
