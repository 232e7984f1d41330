#!/bin/bash
# one crashed state (SECS seconds of 2-thread log, no checkpoint), then each binary's recovery of a copy of it, alternated
O=/work/tmp-lead50/rec; SECS=${SECS:-6}
if [ ! -d $O/crashed ]; then
  head -11 /work/logs/rec50.sh > $O/make.sh; B=/work/tmp-lead50/bufpool-b59b918 bash $O/make.sh $SECS > $O/make.txt 2>&1 || true
  rm -rf $O/crashed; cp -r $O/db $O/crashed
fi
for round in 1 2; do for nb in "$@"; do
  n=${nb%%=*}; b=${nb#*=}
  rm -rf $O/db; cp -r $O/crashed $O/db; sync; echo 3 > /proc/sys/vm/drop_caches
  /usr/bin/time -f "%e s wall %U user %S sys" $b bench --workload tpcc --warehouses 4 --pool-fraction 8 --btree-systems bufpool-btree \
    --tpcc-db $O/db --tpcc-verify $O/acks > $O/v-$n-$round.txt 2>&1
  echo "$round $n $(grep -E '^recovery' $O/v-$n-$round.txt) $(tail -1 $O/v-$n-$round.txt) $(grep -c 'consistent: true' $O/v-$n-$round.txt)"
done; done
