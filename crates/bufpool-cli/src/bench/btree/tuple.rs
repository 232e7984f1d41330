//! The tuples every B+tree workload stores: 8-byte keys, 120-byte self-checking values.
//!
//! Owns the encoding. Tuple `id` (0, 1, 2, ...) has the key `scatter(id)` in big-endian bytes, so loading ids in
//! order inserts keys at random places of the key space (as YCSB's hashed keys do) and a range scan visits ids in
//! no particular order. A value is `id u64 | version u64 | 13 words derived from (id, version)`: a reader checks
//! a value against the key it asked for without knowing which version it should see, so updates by other threads
//! never make a check fail, and a wrong, torn or misplaced value always does.

use anyhow::{bail, Result};

/// Bytes of a key.
pub const KEY_BYTES: usize = 8;
/// Bytes of a value.
pub const VALUE_BYTES: usize = 120;
/// Bytes of the value's header (`id`, `version`).
const HEADER_BYTES: usize = 16;
const _: () = assert!((VALUE_BYTES - HEADER_BYTES).is_multiple_of(8));

/// A bijection of the 64-bit space (splitmix64's finaliser).
#[inline]
pub fn scatter(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The key of tuple `id`.
#[inline]
pub fn key(id: u64) -> [u8; KEY_BYTES] {
    scatter(id).to_be_bytes()
}

#[inline]
fn word(id: u64, version: u64, j: usize) -> u64 {
    scatter(id ^ version.rotate_left(29) ^ 0x7e57_ab1e_0000_0000) ^ (j as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The value of tuple `id` at `version` (the load writes version 0).
pub fn value(id: u64, version: u64) -> [u8; VALUE_BYTES] {
    let mut v = [0u8; VALUE_BYTES];
    v[..8].copy_from_slice(&id.to_le_bytes());
    v[8..16].copy_from_slice(&version.to_le_bytes());
    for (j, c) in v[HEADER_BYTES..].chunks_exact_mut(8).enumerate() {
        c.copy_from_slice(&word(id, version, j).to_le_bytes());
    }
    v
}

fn u64_at(v: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&v[at..at + 8]);
    u64::from_le_bytes(b)
}

/// Checks that `v` is a whole value of tuple `id` (any version); returns its version.
pub fn check(id: u64, v: Option<&[u8]>) -> Result<u64> {
    let Some(v) = v else {
        bail!("tuple {id} (key {:016x}) is missing", scatter(id));
    };
    if v.len() != VALUE_BYTES {
        bail!("tuple {id}: value of {} bytes, expected {VALUE_BYTES}", v.len());
    }
    let (got, version) = (u64_at(v, 0), u64_at(v, 8));
    if got != id {
        bail!("tuple {id}: the value belongs to tuple {got}");
    }
    for j in 0..(VALUE_BYTES - HEADER_BYTES) / 8 {
        if u64_at(v, HEADER_BYTES + 8 * j) != word(id, version, j) {
            bail!("tuple {id} version {version}: word {j} of the value is wrong");
        }
    }
    Ok(version)
}

/// Checks a pair met by a range scan: the value names its tuple, whose key must be `k`. Returns the tuple's id.
pub fn check_pair(k: &[u8], v: &[u8]) -> Result<u64> {
    if v.len() < 8 {
        bail!("scan met a value of {} bytes under key {k:02x?}", v.len());
    }
    let id = u64_at(v, 0);
    if k != key(id) {
        bail!("scan met tuple {id}'s value under key {k:02x?}");
    }
    check(id, Some(v))?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_check_and_damage_is_caught() {
        let v = value(42, 7);
        assert_eq!(check(42, Some(&v)).unwrap(), 7);
        assert!(check(43, Some(&v)).is_err());
        assert!(check(42, None).is_err());
        assert!(check(42, Some(&v[..119])).is_err());
        let mut bad = v;
        bad[100] ^= 1;
        assert!(check(42, Some(&bad)).is_err());
        assert_eq!(check_pair(&key(42), &v).unwrap(), 42);
        assert!(check_pair(&key(41), &v).is_err());
    }

    #[test]
    fn keys_are_distinct_and_scattered() {
        let mut ks: Vec<[u8; 8]> = (0..1000).map(key).collect();
        assert!(
            ks.windows(2).any(|w| w[0] > w[1]),
            "keys of consecutive ids should not be sorted"
        );
        ks.sort_unstable();
        ks.dedup();
        assert_eq!(ks.len(), 1000);
    }
}
