#!/bin/bash
# perf48: the debug test runs before the report, each under /work/heavy (the branch's code differs from main's in
# bufpool-btree's node.rs only: frame.rs's change was reverted); fmt and clippy.
cd /work/wt/perf48; export CARGO_TARGET_DIR=/work/tgt-perf48
date -u; /work/heavy cargo test -p bufpool-btree --no-fail-fast 2>&1 | grep -E "^test result|Running|FAILED|panicked|failed|error"
date -u; /work/heavy cargo test -p bufpool-cli --no-fail-fast 2>&1 | grep -E "^test result|Running|FAILED|panicked|failed|error"
date -u; cargo fmt --all --check && echo fmt clean
/work/heavy cargo clippy --workspace --all-targets -- -D warnings 2>&1 | tail -3; date -u
