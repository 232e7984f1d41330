//! The integration tests of `bufpool-btree`, built as one test binary: each `tests/<name>.rs` is a module here, so its
//! tests are named `<name>::<test>` (`cargo test -p bufpool-btree --test integration -- <name>::`). One binary
//! instead of one per file cuts CI's compiling and linking (RELIABILITY.md, "How the tests run").
//! A file whose tests need the process to themselves (they fork children while other tests reopen locked files,
//! or change a process-wide limit) is a `[[test]]` of its own in Cargo.toml instead.
//!
//! A new file `tests/<name>.rs`: add `mod <name>;` below and write `use crate::common;` where a file of its
//! own would write `mod common;`. `every_test_file_is_built` fails while a file is in neither place.

mod bulk_load_after_failed_merges;
mod common;

mod api_combinations;
mod api_concurrent_edges;
mod api_edges;
mod ascending_inner_fill;
mod block_power_loss;
mod bounded_storage_log;
mod bulk_load;
mod bulk_load_concurrent;
mod bulk_load_input_panics;
mod bulk_load_vs_covered;
mod checkpoint_all;
mod checkpoint_faults_concurrent;
mod concurrent;
mod covered;
mod covered_concurrent_crash;
mod covered_replay_bounded;
mod covered_run;
mod covered_stale_image;
mod create_refused_for_frames;
mod cut_crash_notes;
mod device_faults;
mod fail_safe;
mod failed_sync_reopen_two_trees;
mod files_replaced_while_open;
mod foreign_hint;
mod garbled_meta_page;
mod get_many_order;
mod get_many_part;
mod get_many_reentrant;
mod get_many_runs_concurrent;
mod header_rewrite_power_loss;
mod hint_link;
mod hint_link_garbled;
mod hint_scan_concurrent;
mod inner_children;
mod latch_without_change;
mod legacy_upgrade_failed_sync;
mod log_bound_racing_writeout;
mod log_cut_point;
mod log_dependency_cycle;
mod log_format_version;
mod log_lock_race;
mod log_names_its_data_file;
mod log_of_another_file;
mod log_opened_twice;
mod log_path_of_a_device;
mod log_path_of_a_small_file;
mod log_record_bounds;
mod log_retry_after_failed_sync;
mod log_rewrite_file_mode;
mod log_scan_vs_cut;
mod log_short_read;
mod log_storage_panics;
mod log_storage_shared_by_two_logs;
mod log_symlink_repointed;
mod log_through_a_symlink;
mod model;
mod open_foreign_data_file;
mod open_refused;
mod range_prefetch;
mod read_faults_everywhere;
mod read_hint;
mod replay_past_end;
mod same_process_reopen;
mod scan_from_model;
mod scan_hint_read_error;
mod scan_rows;
mod scans_interleaved;
mod short_keys_concurrent;
mod short_keys_model;
mod sim_crash;
mod sim_crash_covered;
mod slot_cached_not_on_device;
mod spread_checkpoints_crash;
mod stale_copy_garbled_meta;
mod structure_faults_concurrent;
mod structure_faults_everywhere;
mod switch_header_sync;
mod tree_lifecycle_edges;
mod two_trees_one_reopened;
mod uncovered_in_covered_tree;
mod wal_header_slots;
mod whole_api_model;
