//! Covered changes ([`Tree::put_covered`], [`Tree::delete_covered`]): leaf changes a layer above the tree logged
//! in the log the tree's log depends on. What must hold: they are refused without such a dependency; the pool
//! writes no page holding one before that other log is durable (the write-ahead rule, moved to the other log);
//! the tree's own log gets no record per change (only a leaf's full image on its first change after a
//! checkpoint); a leaf hint, fresh or stale, never sends a change to the wrong leaf.

use std::sync::Arc;

use bufpool_btree::{BufferPool, LeafHint, Op, Tree, TreeWal};

fn pool(frames: usize) -> Arc<BufferPool> {
    Arc::new(BufferPool::builder().frames(frames).build().unwrap())
}

fn key(i: u32) -> [u8; 4] {
    i.to_be_bytes()
}

/// A tree whose log depends on `above` (made in `dir`).
fn tree_below(dir: &std::path::Path, pool: Arc<BufferPool>, above: &Arc<TreeWal>) -> Tree {
    let wal = TreeWal::open(dir.join("t.wal")).unwrap();
    wal.flush_first(above.clone()).unwrap();
    Tree::open(pool, wal, dir.join("t.db")).unwrap()
}

#[test]
fn covered_changes_need_a_log_to_depend_on() {
    let dir = tempfile::tempdir().unwrap();
    let wal = TreeWal::open(dir.path().join("t.wal")).unwrap();
    let tree = Tree::open(pool(64), wal, dir.path().join("t.db")).unwrap();
    assert!(tree.put_covered(b"k", b"v", &mut LeafHint::default()).is_err());
    assert!(tree.delete_covered(b"k", &mut LeafHint::default()).is_err());
    assert_eq!(tree.get(b"k").unwrap(), None, "a refused change changes nothing");
}

#[test]
fn a_page_with_a_covered_change_is_written_only_after_the_log_above_is_durable() {
    let dir = tempfile::tempdir().unwrap();
    let above = TreeWal::open(dir.path().join("above.log")).unwrap();
    let tree = tree_below(dir.path(), pool(64), &above);
    for i in 0..50 {
        tree.put(&key(i), b"loaded").unwrap();
    }
    tree.checkpoint().unwrap();
    // First change of the leaf after the checkpoint: a full image in the tree's log. Then changes the tree's log
    // knows nothing of.
    let end_of_image = {
        above
            .append(&[Op::Put {
                page: 0,
                key: &key(1),
                val: b"one",
            }])
            .unwrap();
        tree.put_covered(&key(1), b"one", &mut LeafHint::default()).unwrap();
        // The tree's log durable past the leaf's LSN: the pool's flush of it has nothing of its own to do.
        tree.commit().unwrap();
        tree.wal().end_lsn()
    };
    let mut hint = LeafHint::default();
    let mut appended = 0;
    for i in 2..40 {
        appended = above
            .append(&[Op::Put {
                page: 0,
                key: &key(i),
                val: b"two",
            }])
            .unwrap();
        tree.put_covered(&key(i), b"two", &mut hint).unwrap();
    }
    assert_eq!(
        tree.wal().end_lsn(),
        end_of_image,
        "no tree record for a covered change after the image"
    );
    assert!(above.durable_lsn() < appended, "nothing made the log above durable yet");
    // The pool writes the leaf: the log above must be durable first.
    tree.pool().flush_file(tree.file()).unwrap();
    assert!(
        above.durable_lsn() >= appended,
        "a page was written before the records covering it"
    );
    for i in 2..40 {
        assert_eq!(tree.get(&key(i)).unwrap().as_deref(), Some(&b"two"[..]));
    }
    tree.check().unwrap();
}

#[test]
fn stale_and_foreign_hints_never_misplace_a_change() {
    let dir = tempfile::tempdir().unwrap();
    let above = TreeWal::open(dir.path().join("above.log")).unwrap();
    let tree = tree_below(dir.path(), pool(256), &above);
    let val = [7u8; 200];
    let mut hints = Vec::new();
    // Ascending puts, each with the previous one's hint: many leaf splits make earlier hints stale.
    let mut hint = LeafHint::default();
    for i in 0..2000 {
        tree.put_covered(&key(i), &val, &mut hint).unwrap();
        hints.push(hint);
    }
    // Every key with a hint taken for another key, far away: the change must still land where the key belongs.
    for i in 0..2000u32 {
        let mut h = hints[((i * 7919) % 2000) as usize];
        tree.put_covered(&key(i), &i.to_le_bytes(), &mut h).unwrap();
        let mut h = hints[((i * 104_729) % 2000) as usize];
        if i % 3 == 0 {
            assert!(tree.delete_covered(&key(i), &mut h).unwrap());
            assert!(!tree.delete_covered(&key(i), &mut h).unwrap(), "already gone");
        }
    }
    // A hint from get_hinted, for the key it read.
    let mut h = LeafHint::default();
    assert!(tree.get_hinted(&key(5), &mut h, |v| v.is_some()).unwrap());
    tree.put_covered(&key(5), b"five", &mut h).unwrap();
    for i in 0..2000u32 {
        let want = match i {
            5 => Some(b"five".to_vec()),
            _ if i % 3 == 0 => None,
            _ => Some(i.to_le_bytes().to_vec()),
        };
        assert_eq!(tree.get(&key(i)).unwrap(), want, "key {i}");
    }
    let stats = tree.check().unwrap();
    assert_eq!(stats.entries, 2000 - 667);
}

/// A leaf holding covered changes that splits is logged by its image, not as a `SPLIT` op. Recovery replays the
/// tree's log before the layer above redoes the covered changes, so a `SPLIT` replayed on that leaf would meet
/// it without them, choose another separator than the one logged for the parent and the right leaf's image, and
/// leave overlapping halves. Here: covered inserts split many leaves, both logs are made durable, the tree is
/// dropped unclosed (a crash with no page written since the checkpoint), then recovered and the covered changes
/// redone, as a layer above does from its own log: the tree checks and holds every key.
#[test]
fn a_split_of_a_leaf_holding_covered_changes_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let mix = |i: u64| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5555).to_be_bytes();
    let val = |i: u64| [i as u8; 120];
    let (loaded, covered) = (3_000u64, 6_000u64);
    {
        let above = TreeWal::open(dir.path().join("above.log")).unwrap();
        let tree = tree_below(dir.path(), pool(4096), &above);
        for i in 0..loaded {
            tree.put(&mix(i), &val(i)).unwrap();
        }
        tree.checkpoint().unwrap();
        let leaves = tree.check().unwrap().leaves;
        for i in loaded..loaded + covered {
            above
                .append(&[Op::Put {
                    page: 0,
                    key: &mix(i),
                    val: &val(i),
                }])
                .unwrap();
            tree.put_covered(&mix(i), &val(i), &mut LeafHint::default()).unwrap();
        }
        assert!(
            tree.check().unwrap().leaves > 2 * leaves,
            "covered inserts split leaves"
        );
        above.commit().unwrap();
        tree.commit().unwrap();
        // Dropped unclosed: a crash. (The pool holds every page: none was written since the checkpoint.)
    }
    let above = TreeWal::open(dir.path().join("above2.log")).unwrap();
    let tree = tree_below(dir.path(), pool(4096), &above);
    for i in loaded..loaded + covered {
        tree.put_covered(&mix(i), &val(i), &mut LeafHint::default()).unwrap();
    }
    assert_eq!(tree.check().unwrap().entries as u64, loaded + covered);
    for i in 0..loaded + covered {
        assert_eq!(tree.get(&mix(i)).unwrap().as_deref(), Some(&val(i)[..]), "key {i}");
    }
}
