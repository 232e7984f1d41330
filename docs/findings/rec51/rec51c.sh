#!/bin/bash
# lead50's rec50c.sh pointed at /work/tmp-rec51: one crashed state (SECS seconds of 2-thread log, no checkpoint,
# then SIGKILL; made by $B once, kept in $O/crashed), then each binary's recovery of a fresh copy of it, caches
# dropped, two rounds, alternated. Run under /work/timed:  SECS=6 O=/work/tmp-rec51/rec rec51c.sh NAME=BINARY...
# DB: the loaded database the crashed state starts from (lead50's rec50c.sh calls this with its own O, B and DB).
O=${O:-/work/tmp-rec51/rec}; SECS=${SECS:-6}; B=${B:-/work/tmp-rec51/bufpool-base}; DB=${DB:-/work/tmp-rec51/db}
mkdir -p $O
if [ ! -d $O/crashed ]; then
  # rec50.sh's first 11 lines (lead50), with this directory and the loaded db $DB
  rm -rf $O/db; cp -r $DB $O/db; sync; echo 3 > /proc/sys/vm/drop_caches
  rm -f $O/s.csv; : > $O/acks
  BUFPOOL_TPCC_LOG_MAX=8589934592 $B bench --workload tpcc --warehouses 4 --threads 2 --seconds 600 --pool-fraction 8 \
    --btree-systems bufpool-btree --tpcc-db $O/db --tpcc-samples $O/s.csv > $O/run.txt 2>&1 &
  P=$!
  n=0; while [ "$n" -lt "$SECS" ]; do sleep 0.05; n=$(grep -c "^[0-9]" $O/s.csv 2>/dev/null | head -1); n=${n:-0}; done
  kill -9 $P; wait $P 2>/dev/null
  tail -2 $O/s.csv > $O/make.txt; ls -la $O/db/*/ >> $O/make.txt
  rm -rf $O/crashed; cp -r $O/db $O/crashed
fi
for round in 1 2; do for nb in "$@"; do
  n=${nb%%=*}; b=${nb#*=}
  rm -rf $O/db; cp -r $O/crashed $O/db; sync; echo 3 > /proc/sys/vm/drop_caches
  /usr/bin/time -f "%e s wall %U user %S sys" $b bench --workload tpcc --warehouses 4 --pool-fraction 8 --btree-systems bufpool-btree \
    --tpcc-db $O/db --tpcc-verify $O/acks > $O/v-$n-$round.txt 2>&1
  echo "$round $n $(grep -E '^recovery' $O/v-$n-$round.txt) $(tail -1 $O/v-$n-$round.txt) $(grep -c 'consistent: true' $O/v-$n-$round.txt)"
done; done
