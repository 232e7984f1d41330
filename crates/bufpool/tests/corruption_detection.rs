//! Corruption detection by `checksum::verify`: seeded random corruptions of valid pages, and every torn mixture
//! of a 4 KiB page's sectors.
//!
//! The rule under test: a page image that is not exactly what the pool stamped for this page number is never
//! accepted as `Valid`. The one thing `verify` cannot tell from bytes alone is a page that became *all zero*:
//! that is the format's "never written" image and reads as `Fresh`. Those cases are counted apart (`zeroed`) and
//! are not checksum escapes; what the pool does about them is discussed in RELIABILITY.md.
//!
//! Sizes: CI runs `BUFPOOL_CORRUPTIONS` (default 20,000) random corruptions; the ignored test runs 1,000,000:
//! `cargo test --release -p bufpool --test integration -- corruption_detection:: --ignored --nocapture`.

use bufpool::checksum::{stamp, verify, Verified};
use bufpool::{CorruptReason, PageNo};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SECTOR: usize = 512;

/// A valid page of `size` bytes: random user bytes and LSN, stamped for `page_no`.
fn valid_page(rng: &mut StdRng, size: usize, page_no: PageNo) -> Vec<u8> {
    let mut p = vec![0u8; size];
    rng.fill(&mut p[24..]);
    let lsn: u64 = rng.random();
    p[8..16].copy_from_slice(&lsn.to_le_bytes());
    stamp(&mut p, page_no);
    assert_eq!(verify(&p, page_no), Ok(Verified::Valid));
    p
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    BitFlips,
    StrayByte,
    ZeroTail,
    RandomOverwrite,
    StaleSector,
    WrongPageNumber,
}

const KINDS: [Kind; 6] = [
    Kind::BitFlips,
    Kind::StrayByte,
    Kind::ZeroTail,
    Kind::RandomOverwrite,
    Kind::StaleSector,
    Kind::WrongPageNumber,
];

#[derive(Default, Debug)]
struct Tally {
    /// Corruptions applied (that changed the image), per kind.
    applied: [u64; 6],
    /// Detected as corrupt, per kind.
    detected: [u64; 6],
    /// Corruptions that left an all-zero image (read as `Fresh`, not a checksum escape), per kind.
    zeroed: [u64; 6],
    /// Accepted as `Valid`: checksum escapes. Must stay 0.
    escaped: [u64; 6],
    checksum_mismatch: u64,
    wrong_page_number: u64,
    bad_magic: u64,
    /// Draws that did not change the image (e.g. a stray 0xFF over a 0xFF byte), skipped.
    no_change: u64,
}

/// Applies one random corruption of `kind`; returns the image and the page number it is read as.
fn corrupt(rng: &mut StdRng, kind: Kind, page: &[u8], page_no: PageNo) -> (Vec<u8>, PageNo) {
    let len = page.len();
    let mut c = page.to_vec();
    match kind {
        Kind::BitFlips => {
            let n = rng.random_range(1..=4);
            let mut bits: Vec<usize> = Vec::new();
            while bits.len() < n {
                let b = rng.random_range(0..len * 8);
                if !bits.contains(&b) {
                    bits.push(b);
                }
            }
            for b in bits {
                c[b / 8] ^= 1 << (b % 8);
            }
        }
        Kind::StrayByte => {
            let at = rng.random_range(0..len);
            c[at] = if rng.random() { 0x00 } else { 0xFF };
        }
        Kind::ZeroTail => {
            // Offset 0 (the whole page zeroed) is drawn on purpose now and then.
            let from = if rng.random_range(0..32) == 0 {
                0
            } else {
                rng.random_range(0..len)
            };
            c[from..].fill(0);
        }
        Kind::RandomOverwrite => {
            let at = rng.random_range(0..len);
            let n = rng.random_range(1..=(len - at).min(256));
            rng.fill(&mut c[at..at + n]);
        }
        Kind::StaleSector => {
            // One sector from an older version of the same page (a lost sector write).
            let old = valid_page(rng, len, page_no);
            let s = rng.random_range(0..len / SECTOR);
            c[s * SECTOR..(s + 1) * SECTOR].copy_from_slice(&old[s * SECTOR..(s + 1) * SECTOR]);
        }
        Kind::WrongPageNumber => {
            // A valid page read at another page's offset (misdirected write).
            let mut other = rng.random();
            if other == page_no {
                other ^= 1;
            }
            return (c, other);
        }
    }
    (c, page_no)
}

fn run_random(seed: u64, cases: u64) -> Tally {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut t = Tally::default();
    let mut i = 0;
    while i < cases {
        // Mostly 4 KiB pages, one in eight of a larger size.
        let size = if rng.random_range(0..8) == 0 {
            [8192, 16384, 32768, 65536][rng.random_range(0..4)]
        } else {
            4096
        };
        let page_no: PageNo = rng.random();
        let page = valid_page(&mut rng, size, page_no);
        let k = rng.random_range(0..KINDS.len());
        let (c, read_as) = corrupt(&mut rng, KINDS[k], &page, page_no);
        if c == page && read_as == page_no {
            t.no_change += 1;
            continue;
        }
        i += 1;
        t.applied[k] += 1;
        match verify(&c, read_as) {
            Ok(Verified::Valid) => t.escaped[k] += 1,
            Ok(Verified::Fresh) => {
                assert!(c.iter().all(|&b| b == 0), "Fresh only for all-zero images");
                t.zeroed[k] += 1;
            }
            Err(reason) => {
                t.detected[k] += 1;
                match reason {
                    CorruptReason::ChecksumMismatch { .. } => t.checksum_mismatch += 1,
                    CorruptReason::WrongPageNumber { .. } => t.wrong_page_number += 1,
                    CorruptReason::BadMagic { .. } => t.bad_magic += 1,
                    CorruptReason::TooShort { len } => panic!("full-size image reported too short ({len})"),
                    // A checksum mismatch whose (damaged) size byte names another valid page size.
                    CorruptReason::WrongPageSize { .. } => t.checksum_mismatch += 1,
                    other => panic!("unbound verify of a full-size image reported {other}"),
                }
            }
        }
    }
    t
}

fn report_and_check(t: &Tally, cases: u64) {
    println!(
        "random corruptions: {cases} applied ({} draws changed nothing and were redrawn)",
        t.no_change
    );
    for (k, kind) in KINDS.iter().enumerate() {
        println!(
            "  {kind:?}: applied {}, detected {}, zeroed (read as fresh) {}, escaped {}",
            t.applied[k], t.detected[k], t.zeroed[k], t.escaped[k]
        );
    }
    println!(
        "  reasons: checksum mismatch {}, wrong page number {}, bad magic {}",
        t.checksum_mismatch, t.wrong_page_number, t.bad_magic
    );
    assert_eq!(t.applied.iter().sum::<u64>(), cases);
    assert_eq!(t.escaped, [0; 6], "a corrupted page verified as valid");
    for (k, kind) in KINDS.iter().enumerate() {
        assert!(t.applied[k] > 0, "{kind:?} never drawn");
        if *kind != Kind::ZeroTail {
            assert_eq!(t.zeroed[k], 0, "{kind:?} cannot zero a whole page");
        }
        assert_eq!(t.applied[k], t.detected[k] + t.zeroed[k]);
    }
}

fn cases_from_env(default: u64) -> u64 {
    std::env::var("BUFPOOL_CORRUPTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn random_corruptions_are_detected() {
    let cases = cases_from_env(20_000);
    let t = run_random(0x5eed_c0de, cases);
    report_and_check(&t, cases);
}

#[test]
#[ignore = "1,000,000 corruptions: run in release (see the module docs)"]
fn a_million_random_corruptions_are_detected() {
    let cases = cases_from_env(1_000_000);
    let t = run_random(0x1_000_000, cases);
    report_and_check(&t, cases);
}

/// Mixes `old` and `new` by sector: sector `s` comes from `new` when bit `s` of `mask` is set.
fn mix(old: &[u8], new: &[u8], mask: u32) -> Vec<u8> {
    let mut m = old.to_vec();
    for s in 0..old.len() / SECTOR {
        if mask & (1 << s) != 0 {
            m[s * SECTOR..(s + 1) * SECTOR].copy_from_slice(&new[s * SECTOR..(s + 1) * SECTOR]);
        }
    }
    m
}

fn assert_sectors_all_differ(old: &[u8], new: &[u8]) {
    for (a, b) in old.chunks(SECTOR).zip(new.chunks(SECTOR)) {
        assert_ne!(a, b, "old and new must differ in every sector");
    }
}

/// Checks all 254 torn mixtures (neither all-old nor all-new) of a 4 KiB page; returns how many were checked.
fn check_all_mixtures(old: &[u8], new: &[u8], page_no: PageNo) -> u64 {
    assert_eq!(old.len(), 4096);
    assert_sectors_all_differ(old, new);
    let mut n = 0;
    for mask in 1..255u32 {
        let m = mix(old, new, mask);
        let r = verify(&m, page_no);
        assert!(r.is_err(), "torn mixture {mask:#010b} accepted: {r:?}");
        n += 1;
    }
    n
}

#[test]
fn every_torn_mixture_of_a_4k_page_is_detected() {
    let mut rng = StdRng::seed_from_u64(254);
    let mut checked = 0;
    for _ in 0..32 {
        let page_no: PageNo = rng.random_range(0..1 << 20);
        // Unrelated old and new versions.
        let old = valid_page(&mut rng, 4096, page_no);
        let new = valid_page(&mut rng, 4096, page_no);
        checked += check_all_mixtures(&old, &new, page_no);

        // A minimal update: new differs from old by one byte in each sector (and by its LSN and checksum).
        let mut small = old.clone();
        for s in 0..8 {
            let at = if s == 0 {
                rng.random_range(24..SECTOR)
            } else {
                s * SECTOR + rng.random_range(0..SECTOR)
            };
            small[at] ^= rng.random_range(1..=255u8);
        }
        let lsn = u64::from_le_bytes(old[8..16].try_into().unwrap()).wrapping_add(1);
        small[8..16].copy_from_slice(&lsn.to_le_bytes());
        stamp(&mut small, page_no);
        checked += check_all_mixtures(&old, &small, page_no);

        // The first write of a page that was never written: old is all zero, as after a file extension.
        let zero = vec![0u8; 4096];
        checked += check_all_mixtures(&zero, &new, page_no);
    }
    assert_eq!(checked, 32 * 3 * 254);
    println!("torn mixtures: {checked} checked (32 page pairs x 3 variants x 254), all detected");
}
