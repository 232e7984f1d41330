//! The integration tests of `bufpool-cli`, built as one test binary: each `tests/<name>.rs` is a module here, so its
//! tests are named `<name>::<test>` (`cargo test -p bufpool-cli --test integration -- <name>::`). One binary instead of
//! one per file cuts CI's compiling and linking (RELIABILITY.md, "How the tests run").
//! A file whose tests need the process to themselves (they fork children while other tests reopen locked files,
//! or change a process-wide limit) is a `[[test]]` of its own in Cargo.toml instead.
//!
//! A new file `tests/<name>.rs`: add `mod <name>;` below and write `use crate::common;` where a file of its
//! own would write `mod common;`. `every_test_file_is_built` fails while a file is in neither place.

mod common;

mod bench_btree_smoke;
mod bench_smoke;
mod bench_variants_smoke;
mod bench_warm_restart_smoke;
mod sim_arc_oltp;
mod sim_cli;
mod sim_shared_traces;
mod tpcc_crash;
mod tpcc_shared_db;
mod tpcc_smoke;
mod tpcc_verify_scale;
