//! Helpers shared by the integration tests: key and value generators and tree opening.
#![allow(dead_code)]

use std::path::Path;

use bufpool_btree::{open_dir, Options, Tree};

/// A long key for `id`: a run of padding, then 8 scattered bytes. The padding comes first so that separators
/// (the shortest prefixes that tell neighbours apart) stay long too, and a 4 KiB tree gets several levels fast.
pub fn key(id: u64) -> Vec<u8> {
    let pad = 60 + (mix(id ^ 0xabc) % 56) as usize;
    let mut k = vec![b'k'; pad];
    k.extend_from_slice(&mix(id).to_be_bytes());
    k
}

/// The value for `id` at version `ver`, of varying length.
pub fn value(id: u64, ver: u64) -> Vec<u8> {
    let len = 8 + (mix(id.wrapping_add(ver)) % 300) as usize;
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(&id.to_le_bytes());
    while v.len() < len {
        v.push((mix(id ^ ver ^ v.len() as u64) & 0xff) as u8);
    }
    v
}

/// splitmix64's finaliser.
pub fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Opens the tree in `dir` with 4 KiB pages and `frames` frames.
pub fn open(dir: &Path, frames: usize) -> Tree {
    open_dir(
        dir,
        Options {
            frames,
            page_size: 4096,
        },
    )
    .expect("open tree")
}
