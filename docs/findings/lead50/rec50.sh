#!/bin/bash
# recovery time after SIGKILL with ~SECS seconds of 2-thread log (no checkpoint during the run)
B=${B:-/work/tmp-lead50/bufpool-b59b918}; SECS=${1:-6}; O=/work/tmp-lead50/rec; mkdir -p $O
rm -rf $O/db; cp -r /work/tmp-lead50/db $O/db; sync; echo 3 > /proc/sys/vm/drop_caches
rm -f $O/s.csv; : > $O/acks
BUFPOOL_TPCC_LOG_MAX=8589934592 $B bench --workload tpcc --warehouses 4 --threads 2 --seconds 600 --pool-fraction 8 \
  --btree-systems bufpool-btree --tpcc-db $O/db --tpcc-samples $O/s.csv > $O/run.txt 2>&1 &
P=$!
n=0; while [ "$n" -lt "$SECS" ]; do sleep 0.05; n=$(grep -c "^[0-9]" $O/s.csv 2>/dev/null | head -1); n=${n:-0}; done
kill -9 $P; wait $P 2>/dev/null
tail -2 $O/s.csv; du -sh $O/db/*/ ; ls -la $O/db/*/ | grep -i 'log\|wal' | head -20
sync; echo 3 > /proc/sys/vm/drop_caches
${PERF:+perf record -F 999 -g -o $O/perf-verify.data} /usr/bin/time -v $B bench --workload tpcc --warehouses 4 --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db $O/db --tpcc-verify $O/acks > $O/verify.txt 2>&1
grep -E 'Elapsed|User time|System time|File system inputs' $O/verify.txt; grep -v '^\s' $O/verify.txt | tail -8
