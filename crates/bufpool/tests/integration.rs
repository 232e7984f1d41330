//! The integration tests of `bufpool`, built as one test binary: each `tests/<name>.rs` is a module here, so its
//! tests are named `<name>::<test>` (`cargo test -p bufpool --test integration -- <name>::`). One binary instead of
//! one per file cuts CI's compiling and linking (RELIABILITY.md, "How the tests run").
//! A file whose tests need the process to themselves (they fork children while other tests reopen locked files,
//! or change a process-wide limit) is a `[[test]]` of its own in Cargo.toml instead.
//!
//! A new file `tests/<name>.rs`: add `mod <name>;` below and write `use crate::common;` where a file of its
//! own would write `mod common;`. `every_test_file_is_built` fails while a file is in neither place.

mod common;

mod background_writer;
mod bad_input;
mod batch_and_prefetch;
mod builder_edges;
mod checkpoint_contract;
mod checkpoint_healed_log;
mod checkpoint_per_file;
mod checkpoint_puts_off;
mod clean_write_guard;
mod concurrent_selfcheck;
mod concurrent_writebacks;
mod corruption;
mod corruption_detection;
mod corruption_short_image;
mod corruption_syndromes;
mod cross_thread_callbacks;
mod custom_policy;
mod data_file_by_another_name;
mod data_file_lock_race;
mod data_file_replaced_while_open;
mod doublewrite;
mod drop_and_checkpoint;
mod drop_during_writeback_and_reopen;
mod dropped_writes_checkpoint;
mod emptied_data_file;
mod eviction_roundtrip;
mod exhaustion;
mod expect_lsn;
mod failed_file_frames_vs_guards;
mod fault_failed_file_frames;
mod file_id_reuse;
mod file_stats;
mod flush_files;
mod frame_wait_forever;
mod free_page_vs_load;
mod free_page_vs_read;
mod freed_pages;
mod held_by_caller;
mod held_by_caller_shared;
mod held_latches;
mod hit_counts_two_pools;
mod id_space_edges;
mod io_backend;
mod io_latency;
mod layered_storage;
mod model39_findings;
mod model40_findings;
mod model_findings;
mod new_page_vs_double_free;
mod new_user_errors;
mod open_faults;
mod open_lock_after_rename;
mod open_page0_eio;
mod optimistic;
mod own_holds_are_waited_for;
mod panic_safety;
mod panics_with_waiters;
mod per_file_wal;
mod policy_contract;
mod policy_misuse;
mod policy_model;
mod policy_panics;
mod prefetch_vs_drop_and_reopen;
mod presets;
mod put_off_runs_vs_reopen;
mod record_store_faults;
mod reentrant_callbacks;
mod reentrant_closures;
mod resident_list_not_a_file;
mod resident_list_temp_file;
mod review_findings;
mod review_suspicions;
mod runs_in_flight;
mod scan_and_veto;
mod sim_crash;
mod sim_regression_foreign_load_error;
mod sim_regression_reopen_unsynced;
mod single_flight;
mod snapshots;
mod stats_agree;
mod stats_by_source;
mod storage_backends;
mod storage_drop_panics;
mod storage_shared_by_two_pools;
mod stress_16_threads;
mod sweep_vs_eviction;
mod unmodelled_api;
mod upgrade;
mod veto_panic_is_reported_once;
mod victim_of_another_file;
mod waits_combined;
mod wal_rule;
mod warm_restart;
mod whole_api_model;
mod write_claim_edges;
mod write_failure;
mod writer_rate_limit;
mod written_lsn_bound;

/// Every `tests/*.rs` of every crate in the workspace is built: a module of its crate's `tests/integration.rs` or
/// a `[[test]]` of its own (with `autotests = false`, a file named in neither would be skipped without a word).
/// One test for the three crates, here in the core crate's binary.
#[test]
fn every_test_file_is_built() {
    let crates = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut checked = 0;
    for krate in std::fs::read_dir(crates).unwrap() {
        let krate = krate.unwrap().path();
        let dir = krate.join("tests");
        let Ok(root) = std::fs::read_to_string(dir.join("integration.rs")) else {
            continue;
        };
        let manifest = std::fs::read_to_string(krate.join("Cargo.toml")).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let Some(stem) = name.strip_suffix(".rs") else {
                continue;
            };
            assert!(
                stem == "integration"
                    || root.contains(&format!("\nmod {stem};\n"))
                    || manifest.contains(&format!("path = \"tests/{name}\"")),
                "{}: tests/{name} is neither a module of tests/integration.rs nor a [[test]] in Cargo.toml",
                krate.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} test files found under {crates}");
}
