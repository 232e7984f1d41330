//! `Tree::get_many_hinted` calls its callback in key order, as documented, when many keys share their first 8
//! bytes (a batch sorts by those bytes as one word first, and by the whole keys only where the words tie), and
//! answers every key as `get` does. Keys of 9 to 12 bytes under one 8-byte prefix, and short keys that differ from
//! each other only by trailing zero bytes (`b"a"`, `b"a\0"`, `b"a\0\0"`), whose padded words tie too. What a user
//! would see on a failure: rows handed back out of key order, or the wrong row for a key.

use crate::common;

/// Key `n`: an 8-byte prefix shared by every key, then 1 to 4 bytes from `n` (so most keys' first 8 bytes tie).
fn long_key(n: u64) -> Vec<u8> {
    let m = common::mix(n);
    let mut k = b"stock\0\x01\x02".to_vec();
    k.extend_from_slice(&m.to_be_bytes()[..1 + (m % 4) as usize]);
    k
}

#[test]
fn callback_in_key_order_when_first_words_tie() {
    let dir = tempfile::tempdir().unwrap();
    let tree = common::open(dir.path(), 256);
    // Present: every even `n` and the short keys; absent: the odd `n` (some collide with present keys: fine).
    let shorts: Vec<Vec<u8>> = [
        &b"a"[..],
        b"a\0",
        b"a\0\0",
        b"a\0\0\0\0\0\0\0",
        b"a\0\0\0\0\0\0\0\0",
        b"",
    ]
    .iter()
    .map(|k| k.to_vec())
    .collect();
    for n in (0..4000u64).step_by(2) {
        tree.put(&long_key(n), &common::value(n, 1)).unwrap();
    }
    for (j, k) in shorts.iter().enumerate() {
        tree.put(k, &common::value(j as u64, 2)).unwrap();
    }
    // A batch in scrambled order, present and absent keys, a key twice.
    let mut keys: Vec<Vec<u8>> = (0..600u64).map(|n| long_key(common::mix(n) % 4000)).collect();
    keys.extend(shorts.iter().cloned());
    keys.push(long_key(2));
    keys.push(long_key(2));
    keys.sort_by_key(|k| common::mix(k.iter().fold(7, |h, &b| h * 31 + u64::from(b))));
    let refs: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
    let mut seen = Vec::new();
    tree.get_many_hinted(&refs, |i, v, _| {
        assert_eq!(
            v.map(<[u8]>::to_vec),
            tree.get(refs[i]).unwrap(),
            "key {:02x?}",
            refs[i]
        );
        seen.push(i);
    })
    .unwrap();
    let mut all: Vec<usize> = seen.clone();
    all.sort_unstable();
    assert_eq!(all, (0..refs.len()).collect::<Vec<_>>(), "each key answered once");
    for w in seen.windows(2) {
        assert!(
            refs[w[0]] <= refs[w[1]],
            "{:02x?} answered before {:02x?}",
            refs[w[0]],
            refs[w[1]]
        );
    }
}
