#!/usr/bin/env bash
# usage: prof.sh BIN DB OUTDIR T TAG  -- perf record (cpu-clock, self) of 10 s of a 16 s TPC-C run on a copy of DB
# Run under /work/timed. The process is sampled from its run's 2nd second (2 lines in --tpcc-samples) for 10 s.
set -u
BIN=$1; DB=$2; OUT=$3; T=$4; TAG=$5; mkdir -p $OUT
C=${WORK:-/work/tmp-tpcc22}/c; rm -rf $C; cp -r $DB $C
S=$OUT/$TAG.samples; rm -f $S
$BIN bench --workload tpcc --warehouses 4 --threads $T --seconds 16 --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db $C --tpcc-samples $S > $OUT/$TAG.txt 2>&1 &
P=$!
while ! [ -f $S ] || [ $(grep -vc '^#\|^seconds' $S) -lt 2 ]; do sleep 0.1; done
perf record -e cpu-clock -F 4000 ${PERFG:-} -p $P -o $OUT/$TAG.data -- sleep 10 > $OUT/$TAG.perf.log 2>&1
wait $P
rm -rf $C
