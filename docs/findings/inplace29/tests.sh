#!/bin/bash
# the brief's tests on the worktree (each under /work/heavy)
cd /work/wt/inplace29
set -x
/work/heavy cargo test --release -p bufpool-cli --bin bufpool ours::tests 2>&1 | grep -E "test result|FAILED|panicked|^error" 
/work/heavy cargo test --release -p bufpool-btree 2>&1 | grep -E "Running|test result|FAILED|panicked|^error"
BUFPOOL_BTREE_SIM_SEEDS=100 /work/heavy cargo test --release -p bufpool-btree --test integration -- sim_crash 2>&1 | grep -E "test result|FAILED|panicked|^error"
/work/heavy cargo test --release -p bufpool-cli --test integration -- tpcc_crash spread_checkpoints_crash 2>&1 | grep -E "test result|FAILED|panicked|^error"
/work/heavy cargo test --release -p bufpool-cli 2>&1 | grep -E "Running|test result|FAILED|panicked|^error"
/work/heavy cargo clippy --workspace --all-targets -- -D warnings 2>&1 | tail -3
echo TESTS_DONE
