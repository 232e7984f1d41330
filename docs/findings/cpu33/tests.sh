#!/bin/bash
# The tests run on the branch's head (session 33), each under /work/heavy, in the worktree; log per step.
cd "$(dirname "$0")/../../.." || exit 1
L=${L:-/work/tmp-cpu33/tests}; mkdir -p $L
/work/heavy cargo test --release -p bufpool-btree --no-fail-fast > $L/btree.log 2>&1; echo "btree rc=$?"
BUFPOOL_BTREE_SIM_SEEDS=100 /work/heavy cargo test --release -p bufpool-btree --test integration -- sim_crash > $L/sim_crash.log 2>&1; echo "sim_crash rc=$?"
/work/heavy cargo test --release -p bufpool-cli --no-fail-fast > $L/cli.log 2>&1; echo "cli rc=$?"
grep -h "^test result" $L/*.log | sort | uniq -c
grep -h "FAILED\|panicked" $L/*.log | sort | uniq -c | head -20
