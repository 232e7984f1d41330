#!/usr/bin/env bash
# usage: sched.sh BIN TAG THREADS SECONDS [env...]: a run on a fresh copy, each thread's schedstat and switches at 1 s and at SECONDS-1
set -u
BIN=$1; TAG=$2; T=$3; S=$4; shift 4
W=${W:-/work/tmp-scale24}; OUT=$W/out; mkdir -p $OUT; C=$W/c; rm -rf $C; cp -r $W/db $C
env "$@" $BIN bench --workload tpcc --warehouses 4 --threads $T --seconds $S --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db $C --tpcc-samples $OUT/$TAG.samples > $OUT/$TAG.txt 2>&1 &
P=$!
while ! [ -f $OUT/$TAG.samples ] || [ $(grep -vc '^#\|^seconds' $OUT/$TAG.samples) -lt 1 ]; do sleep 0.05; done
snap() { for t in /proc/$P/task/*; do echo "$(basename $t) $(cat $t/comm) $(cat $t/schedstat) $(grep ctxt $t/status | awk '{print $2}' | tr '\n' ' ')"; done; }
snap > $OUT/$TAG.sched0; sleep $((S-2)); snap > $OUT/$TAG.sched1
wait $P
echo "$TAG $(date -u +%H:%M:%S) T=$T S=$S $*: $(grep -oE 'threads=[12] pool-fraction=8: [0-9]+ tx/s, consistent: [a-z]+' $OUT/$TAG.txt | tr '\n' ' ')" | tee -a $OUT/summary.txt
join $OUT/$TAG.sched0 $OUT/$TAG.sched1 | awk -v s=$((S-2)) '{printf "%s %s run %.2fs wait(runnable) %.2fs slices %d vol %d invol %d\n", $1,$2,($9-$3)/1e9,($10-$4)/1e9,$11-$5,$12-$6,$13-$7}' 
rm -rf $C
