#!/bin/bash
cd /work/wt/inplace29
set -x
git log --oneline -1
/work/heavy cargo test --release -p bufpool-cli --no-fail-fast 2>&1 | grep -E "Running|test result|FAILED|panicked|^error"
/work/heavy cargo test --release -p bufpool-cli --test integration -- tpcc_crash 2>&1 | grep -E "test result|FAILED|panicked|^error"
/work/heavy cargo clippy --workspace --all-targets -- -D warnings 2>&1 | tail -3
echo TESTS2_DONE
