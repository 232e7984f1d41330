//! Regression test for bug B1, found by the `page_decode` fuzz target (RELIABILITY.md).
//!
//! The story: `checksum::verify` is the gate every page read passes, and it may be handed bytes the pool did not
//! produce (`bufpool inspect` on a foreign or truncated file, a caller of the public `checksum` module). Given an
//! image shorter than the 24-byte page header, it indexed past the end of the slice and panicked
//! (`range end index 4 out of range for slice of length 0`, from `page::get_u32` under `verify`): the fuzzer's
//! first input of four bytes (a page number and an empty image) found it within a second. The library must not
//! panic on input it did not create; a short image is simply not a valid page and should be reported as such.
//!
//! Fixed in `checksum::verify` (images shorter than a header are `Corrupt(TooShort)`).

use bufpool::checksum::verify;

#[test]
fn verify_rejects_short_images_without_panicking() {
    for len in 0..bufpool::PAGE_HEADER_SIZE {
        for fill in [0x00u8, 0xFF, 0x5A] {
            let image = vec![fill; len];
            let r = std::panic::catch_unwind(|| verify(&image, 0));
            let r = r.unwrap_or_else(|_| panic!("verify panicked on a {len}-byte image of {fill:#04x}"));
            assert!(r.is_err(), "a {len}-byte image is not a page: {r:?}");
        }
    }
}
