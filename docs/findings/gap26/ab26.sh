#!/usr/bin/env bash
# gap26's sitting (adapted from /work/ab25.sh): one round at one thread count, vmcache (median of its per-second
# samples from ts 3 on) then each of our variants on a fresh copy of one database loaded before, the variants'
# order reversed in even rounds (first-run bias). Run under /work/timed.
# usage: ab26.sh OUT ROUND T SECS DB NAME=BIN [NAME=BIN ...]
set -u
OUT=$1; r=$2; T=$3; S=$4; DB=$5; shift 5; mkdir -p $OUT; C=$DB.copy
if [ $((r % 2)) = 0 ]; then order=$(printf '%s\n' "$@" | tac); else order=$(printf '%s\n' "$@"); fi
env BLOCK=/work/vmc.blk VIRTGB=16 PHYSGB=4 DATASIZE=4 RUNFOR=15 THREADS=$T /tmp/vmcache/vmcache > $OUT/vmc-r$r-t$T-$$.csv 2>&1
v=$(awk -F, '$1 ~ /^[0-9]+$/ && $1>=3 {print $2}' $OUT/vmc-r$r-t$T-$$.csv | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "r$r t$T vmcache $(date -u +%H:%M:%S) $v" | tee -a $OUT/summary.txt
for nb in $order; do
  name=${nb%%=*}; bin=${nb#*=}
  rm -rf $C; cp -r $DB $C
  $bin bench --workload tpcc --warehouses 4 --threads $T --seconds $S --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db $C > $OUT/$name-r$r-t$T-$$.txt 2>&1
  echo "r$r t$T $name $(date -u +%H:%M:%S) $(grep -oE 'threads=[12] pool-fraction=8: [0-9]+ tx/s, consistent: [a-z]+' $OUT/$name-r$r-t$T-$$.txt | tr '\n' ' ')" | tee -a $OUT/summary.txt
done
rm -rf $C
