#!/bin/bash
cd /work/wt/perf44
export CARGO_TARGET_DIR=/work/tgt-perf44
echo "== start $(date -u +%H:%M)"
/work/heavy cargo test -p bufpool-btree --lib 2>&1 | grep -E "test result|FAILED|panicked"
/work/heavy cargo test -p bufpool-btree --test integration 2>&1 | grep -E "test result|FAILED|panicked|^test .* FAILED"
/work/heavy cargo test -p bufpool-cli --no-fail-fast 2>&1 | grep -E "test result|FAILED|panicked|Running"
echo "== end $(date -u +%H:%M)"
