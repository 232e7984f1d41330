//! The B+tree bench's own logic: durability modes and their labels, load orders, and the summary naming the
//! mode of every write row.

use super::driver::Durability;
use super::report::{row, summary, RowSpec};
use super::*;

#[test]
fn durability_modes_parse_label_and_commit_when_they_say() {
    for (text, d) in [
        ("nondurable-autocommit", Durability::NondurableAutocommit),
        ("durable", Durability::Durable),
        ("batch:64", Durability::Batch(64)),
    ] {
        assert_eq!(Durability::parse(text), Ok(d));
        assert_eq!(d.label(), text);
    }
    for bad in ["batch:0", "batch:", "batch:x", "sync", ""] {
        assert!(Durability::parse(bad).is_err(), "{bad:?} accepted");
    }
    let commits = |d: Durability| (1..=12).filter(|&n| d.commits_after(n)).collect::<Vec<u64>>();
    assert!(commits(Durability::NondurableAutocommit).is_empty());
    assert_eq!(commits(Durability::Durable), (1..=12).collect::<Vec<u64>>());
    assert_eq!(commits(Durability::Batch(4)), [4, 8, 12]);
    assert_eq!(
        parse_durability_list("durable,batch:8,durable").unwrap().0,
        [Durability::Durable, Durability::Batch(8)]
    );
}

#[test]
fn ascending_load_inserts_keys_in_order_and_random_does_not() {
    let asc = LoadOrder::Ascending.ids(1000);
    let rnd = LoadOrder::Random.ids(1000);
    assert!(asc.windows(2).all(|w| tuple::key(w[0]) < tuple::key(w[1])));
    assert!(rnd.windows(2).any(|w| tuple::key(w[0]) > tuple::key(w[1])));
    let mut sorted = asc.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, rnd, "both load every tuple once");
}

/// A loader without a bulk path: counts its inserts.
#[derive(Default)]
struct Counting {
    inserts: Vec<u64>,
    finished: bool,
}

impl driver::Loader for Counting {
    fn insert(&mut self, id: u64) -> Result<()> {
        self.inserts.push(id);
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        self.finished = true;
        Ok(())
    }
}

#[test]
fn bulk_order_loads_bufpool_btree_by_bulk_load_and_others_one_by_one() {
    let ids = LoadOrder::Bulk.ids(3000);
    assert_eq!(ids, LoadOrder::Ascending.ids(3000), "bulk loads in key order");
    // A system without a bulk path gets every id, in order, through `insert`.
    let mut c = Counting::default();
    let m = driver::load(&mut c, &ids, true, 0, |_| {}).unwrap();
    assert_eq!((c.inserts.as_slice(), c.finished, m.ops), (ids.as_slice(), true, 3000));
    // bufpool-btree builds its tree in one call: full leaves, every tuple there.
    let dir = tempfile::tempdir().unwrap();
    let mut sys = ours::Ours::open(dir.path(), 1024, false, Duration::ZERO).unwrap();
    let m = driver::load(&mut sys, &ids, true, 0, |_| {}).unwrap();
    assert_eq!((m.ops, m.hist.len()), (3000, 0), "one call: no per-insert samples");
    let st = sys.check(3000).unwrap();
    assert!(st.leaf_fill() > 0.95, "leaf fill {}", st.leaf_fill());
    sys.close().unwrap();
    let sys = ours::Ours::open(dir.path(), 1024, false, Duration::ZERO).unwrap();
    assert_eq!(sys.check(3000).unwrap().entries, 3000);
}

#[test]
fn bulk_order_loads_lmdb_by_mdb_append() {
    use driver::{KvStore, KvWorker};
    let ids = LoadOrder::Bulk.ids(3000);
    let dir = tempfile::tempdir().unwrap();
    let sys = lmdb::Lmdb::open(dir.path(), 64 << 20, true, None).unwrap();
    let m = driver::load(&mut sys.loader().unwrap(), &ids, true, 0, |_| {}).unwrap();
    assert_eq!((m.ops, m.hist.len()), (3000, 0), "the bulk path: no per-insert samples");
    let mut w = sys.worker(driver::Durability::NondurableAutocommit).unwrap();
    assert_eq!(w.scan_all().unwrap(), 3000);
    for &id in ids.iter().step_by(97) {
        w.get(id).unwrap();
    }
    drop(w);
    drop(sys);
    // MDB_APPEND refuses a key below the last one, which an ordinary put would take: the bulk path is APPEND.
    let dir = tempfile::tempdir().unwrap();
    let sys = lmdb::Lmdb::open(dir.path(), 64 << 20, true, None).unwrap();
    let mut unsorted = ids.clone();
    unsorted.swap(1000, 1001);
    assert!(driver::load(&mut sys.loader().unwrap(), &unsorted, true, 0, |_| {}).is_err());
}

fn measured(ops: u64, syncs: u64) -> Measured {
    let mut hist = hdrhistogram::Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap();
    hist.record(100).unwrap();
    Measured {
        ops_per_sec: ops as f64,
        hist,
        ops,
        cpu_ns_per_op: 1000.0,
        seconds: 1.0,
        io_bytes: (0, 0),
        cache: None,
        syncs,
        memory_bytes: 3 << 20,
    }
}

fn spec(system: &'static str, workload: &'static str, durability: &str) -> RowSpec {
    RowSpec {
        workload,
        system,
        access: "a",
        dist: "zipf:0.99".into(),
        threads: 1,
        pages: 250,
        file_pages: 400,
        frames: 100,
        tuples: 1000,
        pool_fraction: 0.5,
        durability: durability.into(),
    }
}

#[test]
fn rows_carry_durability_syncs_memory_and_live_size() {
    let r = row(&spec("redb", "ycsb-a", "batch:8"), &measured(800, 100));
    assert_eq!(r.durability.as_deref(), Some("batch:8"));
    assert_eq!(r.syncs_per_op, Some(0.125));
    assert_eq!(r.memory_bytes, Some(3 << 20));
    assert_eq!((r.pages, r.file_pages), (250, Some(400)));
    assert_eq!(r.tree_bytes_per_tuple, Some(1024.0));
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["durability"], "batch:8");
    assert_eq!(json["syncs_per_op"], 0.125);
}

#[test]
fn the_summary_names_the_mode_of_every_write_row_and_keeps_modes_apart() {
    let rows = vec![
        row(&spec("bufpool-btree", "ycsb-a", "durable"), &measured(100, 100)),
        row(&spec("redb", "ycsb-a", "durable"), &measured(50, 50)),
        row(
            &spec("bufpool-btree", "ycsb-a", "nondurable-autocommit"),
            &measured(1000, 0),
        ),
        row(&spec("bufpool-btree", "ycsb-c", "read-only"), &measured(1000, 0)),
    ];
    let text = summary(&rows);
    let headers: Vec<&str> = text.lines().filter(|l| l.starts_with("-- ")).collect();
    assert_eq!(headers.len(), 3, "{text}");
    for h in &headers {
        if h.contains("ycsb-a") {
            assert!(h.contains("durability="), "write block without its mode: {h}");
        } else {
            assert!(!h.contains("durability="), "read-only block with a mode: {h}");
        }
    }
    assert!(text.contains("durability=durable") && text.contains("durability=nondurable-autocommit"));
}

/// Out of memory, bufpool-btree's log (written through the OS page cache) is evicted on every tick, as the
/// peers' files are, so its memory stays near its pool's bound; in memory it is left alone.
#[test]
fn out_of_memory_ticks_evict_bufpool_btrees_log() {
    use super::driver::{KvStore, KvWorker};
    let wal_resident = |dir: &std::path::Path| driver::resident_bytes(&dir.join(bufpool_btree::WAL_FILE));
    for oom in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let sys = ours::Ours::open(dir.path(), 64, oom, Duration::ZERO).unwrap();
        let mut w = sys.worker(Durability::Durable).unwrap();
        for id in 0..2000 {
            w.put(id, 1).unwrap();
        }
        drop(w);
        // Committed and synced: the log's pages are clean, so an eviction can drop them.
        sys.settle().unwrap();
        let before = wal_resident(dir.path());
        if before == 0 {
            // This filesystem keeps no page cache for the log (or mincore cannot tell): nothing to evict.
            return;
        }
        sys.tick();
        let after = wal_resident(dir.path());
        if oom {
            assert!(after < before / 4, "the log stayed resident: {before} -> {after} bytes");
        } else {
            assert_eq!(after, before, "a tick in memory must leave the log alone");
        }
    }
}
