//! Proof by test that `checksum::verify` detects every 1-, 2- and 3-bit error in a page (every odd-weight error,
//! in fact), for every page size, whatever the page holds.
//!
//! # The argument
//! CRC-32C is affine: for a fixed length, `crc(m) = L(m) ^ K` with `L` linear over GF(2). The page stores
//! `stored = crc(body)` in bytes 0..4 (little-endian) and `verify` recomputes `crc` over the body (bytes 4..).
//! Flip an error pattern `e = (e_stored, e_body)` into a valid page and `verify` sees
//! `stored' ^ computed' = e_stored ^ L(e_body)`, the *syndrome* `S(e)`, which depends on the error and the page
//! length only, never on the page's contents. The error escapes the checksum iff `S(e) == 0`, and `S` is linear:
//! `S(e) = XOR of S(bit)` over the flipped bits. So with the per-bit syndromes of one page length:
//! - every 1-bit error is detected iff every per-bit syndrome is non-zero;
//! - every 2-bit error iff the per-bit syndromes are pairwise distinct;
//! - every 3-bit error iff no `s_i ^ s_j` equals an `s_k`;
//! - every *odd-weight* error (1, 3, 5, ... bits) if every per-bit syndrome has odd parity, because parity is
//!   linear too: `parity(S(e)) = weight(e) mod 2`. (The algebraic reason: CRC-32C's generator has an even number
//!   of terms, so `x + 1` divides it.) This settles 3-bit errors for every page size, cheaply.
//!
//! The tests first tie the computed syndromes to the real `verify` (flip bits, compare `stored ^ computed`), so
//! the argument is about the code, not about a model of it.
//!
//! A valid page can never turn into the all-zero "fresh" image by flipping 1 to 3 bits: its magic alone
//! (0xB0F1) has 8 bits set. So every such error is reported as corrupt, not read as a fresh page.
//!
//! Cost: per-bit syndromes are computed by walking the CRC register backwards from the end of the page (8 shifts
//! per byte), about 4 million steps for 64 KiB. The exhaustive 3-bit check of a 4 KiB page (537 million pairs)
//! is behind `#[ignore]`:
//! `cargo test --release -p bufpool --test integration -- corruption_syndromes:: --ignored --nocapture`.

use bufpool::checksum::{stamp, verify, Verified};
use bufpool::CorruptReason;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// CRC-32C (Castagnoli) polynomial, bit-reflected, as the `crc32c` crate and SSE4.2 use it.
const POLY_REFLECTED: u32 = 0x82F6_3B78;
/// The same polynomial in normal order, without its x^32 term.
const POLY_NORMAL: u32 = 0x1EDC_6F41;

/// Eight zero-bit steps of the reflected CRC register (one zero byte, from zero initial value).
fn shift8(mut s: u32) -> u32 {
    for _ in 0..8 {
        s = (s >> 1) ^ (POLY_REFLECTED & 0u32.wrapping_sub(s & 1));
    }
    s
}

/// Syndrome of flipping bit `k` of byte `b` of a page of `len` bytes, for every bit of the page (index `8*b+k`).
///
/// Stored-checksum bits (bytes 0..4) flip the stored value directly. A body bit at byte `4+B` of a body of `n`
/// bytes enters the register as `1 << k` and is then shifted by the rest of its byte and every later byte:
/// `shift8^(n-B)(1 << k)`. Walking from the last byte backwards, each byte's syndromes are the next one's shifted.
fn syndromes(len: usize) -> Vec<u32> {
    let mut syn = vec![0u32; len * 8];
    for b in 0..4 {
        for k in 0..8 {
            syn[b * 8 + k] = 1 << (8 * b + k);
        }
    }
    for k in 0..8 {
        let mut v = shift8(1 << k);
        for byte in (4..len).rev() {
            syn[byte * 8 + k] = v;
            v = shift8(v);
        }
    }
    syn
}

fn valid_page(rng: &mut StdRng, len: usize, page_no: u32) -> Vec<u8> {
    let mut p = vec![0u8; len];
    rng.fill(&mut p[24..]);
    p[8..16].copy_from_slice(&rng.random::<u64>().to_le_bytes());
    stamp(&mut p, page_no);
    p
}

fn flip(p: &mut [u8], bit: usize) {
    p[bit / 8] ^= 1 << (bit % 8);
}

/// `stored ^ computed` as `verify` reports it, or 0 if the image verified.
fn observed_syndrome(p: &[u8], page_no: u32) -> u32 {
    match verify(p, page_no) {
        Err(CorruptReason::ChecksumMismatch { stored, computed }) => stored ^ computed,
        // A flip of the page-size byte (magic intact) is reported by the size it names; same checksum mismatch.
        Err(CorruptReason::WrongPageSize { .. }) => {
            u32::from_le_bytes(p[0..4].try_into().unwrap()) ^ bufpool::checksum::compute(p)
        }
        Ok(Verified::Valid) => 0,
        other => panic!("unexpected verification result {other:?}"),
    }
}

const SIZES: [usize; 5] = [4096, 8192, 16384, 32768, 65536];

#[test]
fn computed_syndromes_match_verify() {
    let mut rng = StdRng::seed_from_u64(1);
    for len in SIZES {
        let syn = syndromes(len);
        let page = valid_page(&mut rng, len, 77);
        // Every header bit, the last bits of the page, and random bits elsewhere.
        let mut bits: Vec<usize> = (0..24 * 8).chain(len * 8 - 64..len * 8).collect();
        bits.extend((0..300).map(|_| rng.random_range(0..len * 8)));
        for &bit in &bits {
            let mut c = page.clone();
            flip(&mut c, bit);
            assert_eq!(observed_syndrome(&c, 77), syn[bit], "len {len} bit {bit}");
        }
        // Linearity: a 2- and a 3-bit error have the XOR of the single-bit syndromes.
        for _ in 0..300 {
            let (i, j, k) = (
                rng.random_range(0..len * 8),
                rng.random_range(0..len * 8),
                rng.random_range(0..len * 8),
            );
            let mut c = page.clone();
            flip(&mut c, i);
            flip(&mut c, j);
            assert_eq!(observed_syndrome(&c, 77), syn[i] ^ syn[j]);
            flip(&mut c, k);
            assert_eq!(observed_syndrome(&c, 77), syn[i] ^ syn[j] ^ syn[k]);
        }
    }
}

#[test]
fn every_single_bit_error_is_detected() {
    for len in SIZES {
        let syn = syndromes(len);
        assert!(syn.iter().all(|&s| s != 0), "len {len}");
    }
    // And directly through verify, every bit of a 4 KiB page.
    let mut rng = StdRng::seed_from_u64(2);
    let page = valid_page(&mut rng, 4096, 5);
    let mut c = page.clone();
    for bit in 0..4096 * 8 {
        flip(&mut c, bit);
        assert!(verify(&c, 5).is_err(), "bit {bit}");
        flip(&mut c, bit);
    }
    assert_eq!(c, page);
}

#[test]
fn every_two_bit_error_is_detected() {
    for len in SIZES {
        let mut syn = syndromes(len);
        syn.sort_unstable();
        let dup = syn.windows(2).find(|w| w[0] == w[1]);
        assert!(dup.is_none(), "len {len}: two bits share syndrome {dup:?}");
    }
}

#[test]
fn every_odd_weight_error_is_detected() {
    // The generator x^32 + (POLY_NORMAL terms) has an even number of terms, so x + 1 divides it.
    assert_eq!((POLY_NORMAL.count_ones() + 1) % 2, 0);
    for len in SIZES {
        let syn = syndromes(len);
        assert!(
            syn.iter().all(|&s| s.count_ones() % 2 == 1),
            "len {len}: a per-bit syndrome has even parity"
        );
    }
    // Spot-check through verify: random 3- and 5-bit errors.
    let mut rng = StdRng::seed_from_u64(3);
    for len in SIZES {
        let page = valid_page(&mut rng, len, 9);
        for weight in [3, 5] {
            for _ in 0..200 {
                let mut c = page.clone();
                let mut bits = Vec::new();
                while bits.len() < weight {
                    let b = rng.random_range(0..len * 8);
                    if !bits.contains(&b) {
                        bits.push(b);
                    }
                }
                bits.iter().for_each(|&b| flip(&mut c, b));
                assert!(verify(&c, 9).is_err());
            }
        }
    }
}

/// An open-addressing set of non-zero `u32`s, small enough to stay in cache for 32,768 keys.
struct SyndromeSet {
    slots: Vec<u32>,
    mask: usize,
}

impl SyndromeSet {
    fn new(keys: &[u32]) -> SyndromeSet {
        let cap = (keys.len() * 2).next_power_of_two();
        let mut set = SyndromeSet {
            slots: vec![0; cap],
            mask: cap - 1,
        };
        for &k in keys {
            assert_ne!(k, 0);
            let mut i = set.slot(k);
            while set.slots[i] != 0 && set.slots[i] != k {
                i = (i + 1) & set.mask;
            }
            set.slots[i] = k;
        }
        set
    }

    fn slot(&self, k: u32) -> usize {
        (k.wrapping_mul(0x9E37_79B1) >> 7) as usize & self.mask
    }

    fn contains(&self, k: u32) -> bool {
        let mut i = self.slot(k);
        loop {
            match self.slots[i] {
                0 => return false,
                s if s == k => return true,
                _ => i = (i + 1) & self.mask,
            }
        }
    }
}

#[test]
#[ignore = "exhaustive 3-bit check, 537 million pairs: run in release (see the module docs)"]
fn every_three_bit_error_in_a_4k_page_is_detected_exhaustively() {
    let syn = syndromes(4096);
    let set = SyndromeSet::new(&syn);
    let mut pairs = 0u64;
    for i in 0..syn.len() {
        for j in i + 1..syn.len() {
            assert!(!set.contains(syn[i] ^ syn[j]), "bits {i} and {j} cancel a third bit");
        }
        pairs += (syn.len() - i - 1) as u64;
    }
    assert_eq!(pairs, 32768 * 32767 / 2);
    println!("3-bit errors in a 4 KiB page: {pairs} pairs checked against 32768 syndromes, none escapes");
}
