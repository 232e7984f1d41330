#!/bin/bash
# Runs the ext4 journal-abort test (crates/bufpool-btree/tests/ext4_journal_abort.rs) N times, one round each,
# seeds 1..N (BUFPOOL_EXT4_SEED; odd seeds large values, even short ones); prints one line per run and a tally.
# BIN = the test binary (cargo test --release -p bufpool-btree --test ext4_journal_abort --no-run prints it);
# LOG = where failed runs' output goes; BUFPOOL_EXT4_AIM=tree.db|tree.wal passes through (the test's docs). Needs root. E.g.: BIN=target/release/deps/ext4_journal_abort-HASH \
#   docs/findings/faults31/loop.sh 200 | tail -3
set -u
N=${1:-200}; FIRST=${FIRST:-1}; LOG=${LOG:-/tmp/faults31-loop}; mkdir -p $LOG
ok=0; fail=0; skip=0; aimed=0
for s in $(seq $FIRST $((FIRST + N - 1))); do
  out=$(BUFPOOL_EXT4_SEED=$s BUFPOOL_EXT4_ROUNDS=1 timeout 120 $BIN --nocapture 2>&1)
  echo "$out" | grep -q "^abort during an fsync.*: true" && aimed=$((aimed+1))
  if echo "$out" | grep -q SKIPPED; then skip=$((skip+1)); echo "seed $s skip"
  elif echo "$out" | grep -q "test result: ok"; then ok=$((ok+1))
  else fail=$((fail+1)); echo "$out" > $LOG/seed$s.txt
       echo "seed $s FAIL: $(echo "$out" | grep -m1 -o "acknowledged changes lost.*\|panicked at.*" | cut -c1-200)"; fi
done
echo "runs $N: ok $ok, fail $fail, skipped $skip; aborts during an fsync (aimed at ${BUFPOOL_EXT4_AIM:-any file}): $aimed"
