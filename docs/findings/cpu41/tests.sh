#!/bin/bash
# Session 41 (cpu41): the touched suites and clippy, each under /work/heavy (on de20c0c)
cd /work/wt/cpu41
set -x
/work/heavy cargo clippy --workspace --all-targets -- -D warnings 2>&1 | tail -3
/work/heavy cargo test --release -p bufpool-cli --bin bufpool ours::tests 2>&1 | grep -E "test result|FAILED|panicked|failed" 
/work/heavy cargo test --release -p bufpool-btree --test integration -- covered bounded depend room full 2>&1 | grep -E "test result|FAILED|panicked|failed"
BUFPOOL_BTREE_SIM_SEEDS=100 /work/heavy cargo test --release -p bufpool-btree --test integration -- sim_crash 2>&1 | grep -E "test result|FAILED|panicked|failed"
/work/heavy cargo test --release -p bufpool-cli --test integration tpcc 2>&1 | grep -E "test result|FAILED|panicked|failed|^test "
echo TESTS DONE
