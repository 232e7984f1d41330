#!/bin/bash
# perf45: the debug test runs, one heavy call a test binary (so timed calls can come between them)
cd /work/wt/perf45
export CARGO_TARGET_DIR=/work/tgt-perf45
echo "== start $(date -u +%H:%M)"
for t in "--lib" "--test integration" "--test calls_at_thread_exit" "--test crash" "--test crash_bulk" \
         "--test crash_shared_pool" "--test full_filesystem" "--test ext4_journal_abort" "--test wal_rewrite_dir_sync" "--doc"; do
  echo "== bufpool-btree $t"; /work/heavy cargo test -p bufpool-btree $t 2>&1 | grep -E "test result|FAILED|panicked|error"
done
for t in "--bin bufpool" "--test integration" "--test bad_input" "--test inspect" "--test tpcc_full_device" "--test tpcc_real_faults"; do
  echo "== bufpool-cli $t"; /work/heavy cargo test -p bufpool-cli $t 2>&1 | grep -E "test result|FAILED|panicked|error"
done
echo "== end $(date -u +%H:%M)"
