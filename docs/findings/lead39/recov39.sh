#!/bin/bash
# recov39.sh PRE POST: a 4-warehouse TPC-C run SIGKILLed after KILL_S seconds (nondurable, 2 threads), then
# --tpcc-verify (recovery + checks) timed on copies of the killed database with each binary, alternated.
set -u
PRE=$1; POST=$2; KILL_S=${KILL_S:-12}; D=/work/tmp-lead39
rm -rf $D/killed $D/a* $D/b* $D/acks; cp -a /work/tmp-speed38/db $D/killed
$PRE bench --workload tpcc --warehouses 4 --threads 2 --seconds 60 --pool-fraction 8 \
  --durability nondurable-autocommit --btree-systems bufpool-btree --tpcc-db $D/killed --tpcc-acks $D/acks > $D/run.out 2>&1 &
P=$!; sleep $KILL_S; kill -9 $P 2>/dev/null; wait $P 2>/dev/null
du -sh $D/killed; ls -la $D/killed/* | head -30
for r in 1 2; do
  for side in PRE POST; do
    BIN=${!side}; C=$D/$side-$r; rm -rf $C; cp -a $D/killed $C; sync
    s=$(date +%s.%N)
    $BIN bench --workload tpcc --warehouses 4 --btree-systems bufpool-btree --tpcc-db $C --tpcc-verify $D/acks > $C.out 2>&1
    rc=$?; e=$(date +%s.%N)
    echo "$side round $r: rc=$rc verify $(echo "$e - $s" | bc) s; $(grep -i 'consistent\|recover' $C.out | head -3 | tr '\n' ' ')"
    rm -rf $C
  done
done
