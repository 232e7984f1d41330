#!/bin/bash
# perf43's tests on the branch's head (debug), each under /work/heavy
cd /work/wt/perf43 && export CARGO_TARGET_DIR=/work/tgt-perf43
git log --oneline -1; date
cargo fmt --all --check; echo "fmt rc=$?"
/work/heavy cargo test -p bufpool-btree --lib 2>&1 | grep -E "^test result|FAILED|panicked|Running" ; echo "btree lib rc=${PIPESTATUS[0]}"; date
/work/heavy cargo test -p bufpool-btree --test integration 2>&1 | grep -E "^test result|FAILED|panicked|Running" ; echo "btree integration rc=${PIPESTATUS[0]}"; date
/work/heavy cargo test -p bufpool-cli 2>&1 | grep -E "^test result|FAILED|panicked|Running" ; echo "cli rc=${PIPESTATUS[0]}"; date
