#!/bin/bash
# nb46: the checks before the report, each under /work/heavy (debug tests)
cd /work/wt/nb46; export CARGO_TARGET_DIR=/work/tgt-nb46
echo "== fmt $(date -u +%H:%M)"; cargo fmt --all --check && echo fmt clean
echo "== clippy $(date -u +%H:%M)"; /work/heavy cargo clippy --workspace --all-targets -- -D warnings 2>&1 | tail -3
echo "== btree read_hint first $(date -u +%H:%M)"; /work/heavy cargo test -p bufpool-btree --test integration -- read_hint 2>&1 | grep -E "^test |test result|panicked|FAILED" 
echo "== btree $(date -u +%H:%M)"; /work/heavy cargo test -p bufpool-btree --no-fail-fast 2>&1 | grep -E "Running|test result|FAILED|panicked|failed"
echo "== cli $(date -u +%H:%M)"; /work/heavy cargo test -p bufpool-cli --no-fail-fast 2>&1 | grep -E "Running|test result|FAILED|panicked|failed"
echo "== end $(date -u +%H:%M)"
