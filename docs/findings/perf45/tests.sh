#!/bin/bash
# perf45: the debug test runs: the CLI's (the change is in its `ours.rs`), then the B+tree's, each one heavy call
cd /work/wt/perf45
export CARGO_TARGET_DIR=/work/tgt-perf45
echo "== bufpool-cli $(date -u +%H:%M)"
/work/heavy cargo test -p bufpool-cli --no-fail-fast 2>&1 | grep -E "Running|test result|FAILED|panicked|error"
echo "== bufpool-btree $(date -u +%H:%M)"
/work/heavy cargo test -p bufpool-btree --no-fail-fast 2>&1 | grep -E "Running|Doc-tests|test result|FAILED|panicked|error"
echo "== end $(date -u +%H:%M)"
