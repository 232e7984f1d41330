#!/bin/bash
# nwo48: the debug test runs (each under /work/heavy), fmt and clippy -> tests.log
cd /work/wt/nwo48; export CARGO_TARGET_DIR=/work/tgt-nwo48
/work/heavy cargo test -p bufpool-btree --no-fail-fast
/work/heavy cargo test -p bufpool-cli --no-fail-fast
cargo fmt --all --check && echo fmt clean
/work/heavy cargo clippy --workspace --all-targets -- -D warnings && echo clippy clean
