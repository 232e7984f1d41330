//! A 16-thread stress run of the whole-API model (`whole_api_model.rs` describes the model and its invariants):
//! four times the threads of the smoke on a pool of 12-32 frames, so most misses find frames latched by others,
//! batches defer pages, and lifecycle operations wait for guards. CI: `STRESS_SCHEDULES` (30) schedules of 16 threads
//! x 150 operations with the open bugs' triggers off; `BUFPOOL_STRESS_SCHEDULES=N` for a longer run (seeds
//! 1,000,000 + S onwards with `BUFPOOL_STRESS_FIRST=S`), which goes on after a failure and prints every failing
//! seed.

use crate::common;

use std::time::Duration;

use common::model::{run_many, Config, Features};

const STRESS_SCHEDULES: u64 = 30;

#[test]
fn sixteen_threads() {
    let env = |name: &str| -> Option<u64> { std::env::var(name).ok().and_then(|v| v.parse().ok()) };
    let long = env("BUFPOOL_STRESS_SCHEDULES");
    let schedules = long.unwrap_or(STRESS_SCHEDULES);
    let first = 1_000_000 + env("BUFPOOL_STRESS_FIRST").unwrap_or(0);
    let config = Config {
        threads: 16,
        ops_per_thread: 150,
        files: 3,
        features: Features::without_open_bugs(),
        watchdog: Duration::from_secs(60),
    };
    // Seeds apart from the smoke's, so the two runs cover different schedules.
    let (tally, failures, ran) = run_many(first..first + schedules, &config, long.is_none());
    eprintln!(
        "16 threads: {ran} schedules, {} ops ({} ok), errors {:?}",
        tally.ops, tally.ok, tally.errors
    );
    if let Some((seed, what)) = failures.first() {
        panic!("16-thread stress failed at seed {seed}:\n{what}");
    }
    // Injected faults fail many operations (a failed file refuses writes until it is dropped); a run where
    // fewer than a quarter succeed is not exercising the pool.
    assert!(
        tally.ok > tally.ops / 4,
        "a quarter of the operations succeed: {tally:?}"
    );
}
