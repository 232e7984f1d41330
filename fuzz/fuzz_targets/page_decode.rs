//! Fuzz target `page_decode`: any bytes handed to `checksum::verify` (and to `PageHeader::decode`) must never
//! panic, and `verify` must accept exactly the images the pool could have produced.
//!
//! Input: the first 4 bytes are the page number to verify against, the rest is the image, of any length
//! (images shorter than a header once made `verify` panic: bug B1 in RELIABILITY.md, fixed; regression test
//! `crates/bufpool/tests/corruption_short_image.rs`).
//! Oracle: `Ok(Valid)` only if re-stamping a copy for that page number reproduces the image byte for byte;
//! `Ok(Fresh)` only for an all-zero image. Run: `cd fuzz && cargo fuzz run page_decode` (see RELIABILITY.md).
#![no_main]

use bufpool::checksum::{stamp_for, verify, Verified};
use bufpool::page::PageHeader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let page_no = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    let image = &data[4..];
    let _ = PageHeader::decode(image);
    match verify(image, page_no) {
        Ok(Verified::Fresh) => assert!(image.iter().all(|&b| b == 0), "Fresh for a non-zero image"),
        Ok(Verified::Valid) => {
            let mut again = image.to_vec();
            let identity = PageHeader::decode(image).expect("a valid page has a header").file_identity;
            stamp_for(&mut again, page_no, identity);
            assert_eq!(
                again, image,
                "Valid for an image the pool would not have written"
            );
        }
        Err(_) => {}
    }
});
