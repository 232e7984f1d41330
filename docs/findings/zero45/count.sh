#!/usr/bin/env bash
# Session 45 (zero45): the zeroed tail's counts a transaction (the bench's "log counts/tx": per log, growths written
# by write-outs under `io`, their bytes and ns; growths written ahead by the tick, their bytes and ns; write-outs
# that waited for `io`, and the ns they waited), syncs and device writes (wr/tx), for one build: TPC-C 4
# warehouses in memory, 60 s runs on fresh copies of DB, in the order nondurable-autocommit at 2 threads, at 1
# thread, durable at 2 threads (or CFGS="MODE:T ..."). Run under /work/timed. usage: count.sh BIN DB OUT TAG [SECS]
set -u
BIN=$1; DB=$2; OUT=$3; TAG=$4; S=${5:-60}; mkdir -p $OUT
for cfg in ${CFGS:-nondurable-autocommit:2 nondurable-autocommit:1 durable:2}; do
  mode=${cfg%%:*}; t=${cfg#*:}
  rm -rf $DB.run; cp -r $DB $DB.run; sync
  f=$OUT/$TAG-$mode-t$t.txt
  $BIN bench --workload tpcc --warehouses 4 --threads $t --seconds $S --pool-fraction 8 --durability $mode \
    --btree-systems bufpool-btree --tpcc-db $DB.run > $f 2>&1
  echo "$TAG $mode t$t $(date -u +%H:%M:%S) $(grep -oE 'tpcc .* tx/s' $f | head -1)" | tee -a $OUT/summary.txt
done
rm -rf $DB.run
