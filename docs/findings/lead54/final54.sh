#!/usr/bin/env bash
# Session 54 (lead): issue 15's figures on the session's final build, in one sitting (each step its own
# /work/timed call):
#   1. the table of systems x modes x threads, 4 warehouses in memory, from one run (lead43's full43.sh's command);
#   2. in memory beside vmcache, 60 s runs, 2 threads (three rounds) then 1 (two): speed36's steady.sh on fresh
#      copies of DB4 (odd rounds vmcache first);
#   3. out of memory beside vmcache, 20 warehouses, 1 GiB pools: lead33's oom33.sh steps (DB20 loaded by its
#      `load` step beforehand, under /work/heavy).
# usage: final54.sh BIN DB4 DB20 OUT
set -u; H=$(cd "$(dirname "$0")/.." && pwd); BIN=$1; DB4=$2; DB20=$3; OUT=$4; mkdir -p $OUT/full $OUT/oom
rm -rf $OUT/full/db
/work/timed $BIN bench --workload tpcc --warehouses 4 --threads 1,2 --seconds 10 --pool-fraction 8 \
  --durability nondurable-autocommit,durable,batch:100 --tpcc-db $OUT/full/db --json $OUT/full/full.json > $OUT/full/full.txt 2>&1
echo "rc=$? $(date +%T)" >> $OUT/full/full.txt; rm -rf $OUT/full/db
T=2 MODES="0 0 0" /work/timed $H/speed36/steady.sh $DB4 $OUT/mem 60 MAIN=$BIN
T=1 MODES="0 0" /work/timed $H/speed36/steady.sh $DB4 $OUT/mem 60 MAIN=$BIN
for T in 1 2; do
  /work/timed bash -c "$H/lead33/oom33.sh vmc $OUT/oom $T; $H/lead33/oom33.sh ours $BIN $DB20 $OUT/oom $T MAIN54"
done
echo "done $(date +%T)" >> $OUT/full/full.txt
