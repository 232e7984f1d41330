//! TPC-C's random inputs (clause 2.1.6 and 4.3.2): uniform integers, NURand, the random strings, the customer
//! last names built from syllables, and the run-time NURand constants.
//!
//! Invariant: every generator is a pure function of its [`Rng`] stream, so a seed reproduces a load or a run.

use crate::bench::workload::Rng;

/// The ten syllables of customer last names (clause 4.3.2.3).
const SYLLABLES: [&str; 10] = [
    "BAR", "OUGHT", "ABLE", "PRI", "PRES", "ESE", "ANTI", "CALLY", "ATION", "EING",
];

/// Bytes of a padded last name in keys: the longest name is three five-letter syllables.
pub const LAST_BYTES: usize = 16;
/// Bytes of a padded first name in keys (C_FIRST is at most 16 characters).
pub const FIRST_BYTES: usize = 16;

/// The constants `C` of NURand (clause 2.1.6): one per field, chosen once per run (and for the load).
#[derive(Clone, Copy, Debug)]
pub struct NuConstants {
    /// For C_LAST (A = 255).
    pub c_last: u64,
    /// For C_ID (A = 1023).
    pub c_id: u64,
    /// For OL_I_ID (A = 8191).
    pub ol_i_id: u64,
}

impl NuConstants {
    /// The load's constants.
    pub fn for_load(rng: &mut Rng) -> NuConstants {
        NuConstants {
            c_last: rng.below(256),
            c_id: rng.below(1024),
            ol_i_id: rng.below(8192),
        }
    }

    /// The run's constants: C_ID and OL_I_ID anew; C_LAST such that its distance to the load's is in 65..=119 and
    /// neither 96 nor 112 (clause 2.1.6.1).
    pub fn for_run(load: NuConstants, rng: &mut Rng) -> NuConstants {
        let c_last = loop {
            let c = rng.below(256);
            let delta = c.abs_diff(load.c_last);
            if (65..=119).contains(&delta) && delta != 96 && delta != 112 {
                break c;
            }
        };
        NuConstants {
            c_last,
            c_id: rng.below(1024),
            ol_i_id: rng.below(8192),
        }
    }
}

/// Uniform in `lo..=hi`.
pub fn uniform(rng: &mut Rng, lo: u64, hi: u64) -> u64 {
    lo + rng.below(hi - lo + 1)
}

/// NURand(A, x, y) = (((random(0, A) | random(x, y)) + C) % (y - x + 1)) + x (clause 2.1.6).
pub fn nurand(rng: &mut Rng, a: u64, c: u64, x: u64, y: u64) -> u64 {
    (((uniform(rng, 0, a) | uniform(rng, x, y)) + c) % (y - x + 1)) + x
}

/// A random alphanumeric string of `lo..=hi` characters (clause 4.3.2.2, "a-string"), appended to `out`.
pub fn astring(rng: &mut Rng, lo: u64, hi: u64, out: &mut Vec<u8>) {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let n = uniform(rng, lo, hi);
    out.extend((0..n).map(|_| CHARS[rng.below(CHARS.len() as u64) as usize]));
}

/// A random numeric string of `lo..=hi` digits (clause 4.3.2.2, "n-string").
pub fn nstring(rng: &mut Rng, lo: u64, hi: u64, out: &mut Vec<u8>) {
    let n = uniform(rng, lo, hi);
    out.extend((0..n).map(|_| b'0' + rng.below(10) as u8));
}

/// `astring(lo, hi)`, with "ORIGINAL" written over a random position in 10% of the cases (I_DATA, S_DATA:
/// clause 4.3.3.1).
pub fn data_with_original(rng: &mut Rng, lo: u64, hi: u64) -> Vec<u8> {
    let mut s = Vec::new();
    astring(rng, lo, hi, &mut s);
    if rng.below(10) == 0 {
        let at = rng.below((s.len() - 8 + 1) as u64) as usize;
        s[at..at + 8].copy_from_slice(b"ORIGINAL");
    }
    s
}

/// The last name of number `n` in `0..=999`: the syllables of its three digits (clause 4.3.2.3), padded with
/// zero bytes to [`LAST_BYTES`] (keys compare the padded form; rows store it unpadded).
pub fn last_name(n: u64) -> [u8; LAST_BYTES] {
    let mut out = [0u8; LAST_BYTES];
    let mut at = 0;
    for digit in [n / 100 % 10, n / 10 % 10, n % 10] {
        let s = SYLLABLES[digit as usize].as_bytes();
        out[at..at + s.len()].copy_from_slice(s);
        at += s.len();
    }
    out
}

/// A zip code: four random digits then "11111" (clause 4.3.2.7).
pub fn zip(rng: &mut Rng) -> Vec<u8> {
    let mut z = Vec::with_capacity(9);
    nstring(rng, 4, 4, &mut z);
    z.extend_from_slice(b"11111");
    z
}

/// Two random letters (a state).
pub fn state(rng: &mut Rng) -> Vec<u8> {
    (0..2).map(|_| b'A' + rng.below(26) as u8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nurand_stays_in_range_and_is_skewed() {
        let mut rng = Rng::new(7);
        let mut hits = vec![0u32; 3000];
        for _ in 0..300_000 {
            let v = nurand(&mut rng, 1023, 259, 1, 3000);
            assert!((1..=3000).contains(&v));
            hits[(v - 1) as usize] += 1;
        }
        let max = *hits.iter().max().unwrap();
        let min = *hits.iter().min().unwrap();
        // Uniform would give about 100 each; NURand's OR makes some ids many times likelier than others.
        assert!(max > 4 * min.max(1), "max {max} min {min}");
    }

    #[test]
    fn last_names_follow_the_syllables() {
        assert_eq!(&last_name(371)[..12], b"PRICALLYOUGH");
        assert_eq!(&last_name(0)[..9], b"BARBARBAR");
        assert_eq!(&last_name(999)[..12], b"EINGEINGEING");
    }

    #[test]
    fn run_constant_of_c_last_keeps_its_distance() {
        let mut rng = Rng::new(3);
        for _ in 0..200 {
            let load = NuConstants::for_load(&mut rng);
            let run = NuConstants::for_run(load, &mut rng);
            let d = run.c_last.abs_diff(load.c_last);
            assert!((65..=119).contains(&d) && d != 96 && d != 112, "{d}");
        }
    }

    #[test]
    fn original_is_placed_in_about_a_tenth() {
        let mut rng = Rng::new(11);
        let n = (0..10_000)
            .filter(|_| {
                let d = data_with_original(&mut rng, 26, 50);
                assert!((26..=50).contains(&d.len()));
                d.windows(8).any(|w| w == b"ORIGINAL")
            })
            .count();
        assert!((800..1200).contains(&n), "{n}");
    }
}
