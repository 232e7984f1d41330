#!/usr/bin/env bash
# TPC-C out of memory beside vmcache (issue 15's 1.5x target): 20 warehouses, a 1 GiB pool for both.
# One step a call, so that each /work/timed call stays short:
#   oom33.sh load BIN DB            load the 20-warehouse database once (ours, run under /work/heavy)
#   oom33.sh vmc OUT T              vmcache PHYSGB=1 DATASIZE=20 RUNFOR=60 on a fresh sparse file (under /work/timed)
#   oom33.sh ours BIN DB OUT T NAME ours 40 s on a fresh copy of DB, pool 0.655 x the data = 1 GiB (under /work/timed)
# vmcache's figure: the median of its per-second samples after the first 10; ours: the bench's whole-run figure
# and the median of its per-second samples after the first 10 (the last, partial one left out).
set -u
step=$1; shift
case $step in
load)
  BIN=$1; DB=$2; rm -rf "$DB"
  "$BIN" bench --workload tpcc --warehouses 20 --seconds 0.1 --threads 1 --pool-fraction 0.655 \
    --btree-systems bufpool-btree --tpcc-db "$DB"
  du -sm "$DB" ;;
vmc)
  OUT=$1; T=$2; mkdir -p "$OUT"; F=/work/vmc20.blk; rm -f $F; truncate -s 16G $F
  env BLOCK=$F VIRTGB=16 PHYSGB=1 DATASIZE=20 RUNFOR=60 THREADS=$T /tmp/vmcache/vmcache > "$OUT/vmc-t$T.csv" 2>&1
  rm -f $F
  v=$(awk -F, '$1 ~ /^[0-9]+$/ && $1>=10 {print $2}' "$OUT/vmc-t$T.csv" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "t$T vmcache $(date +%H:%M:%S) median-after-10s $v" | tee -a "$OUT/summary.txt" ;;
ours)
  BIN=$1; DB=$2; OUT=$3; T=$4; NAME=$5; mkdir -p "$OUT"; C=$DB.copy; rm -rf "$C"; cp -r "$DB" "$C"
  smp=$OUT/$NAME-t$T.samples.csv; rm -f "$smp"
  "$BIN" bench --workload tpcc --warehouses 20 --threads $T --seconds 40 --pool-fraction 0.655 \
    --btree-systems bufpool-btree --tpcc-db "$C" --tpcc-samples "$smp" --json "$OUT/$NAME-t$T.json" > "$OUT/$NAME-t$T.txt" 2>&1
  rm -rf "$C"
  med=$(grep -v '^#' "$smp" | awk -F, 'NR>1 && $1>=10 {print $2}' | sed '$d' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "t$T $NAME $(date +%H:%M:%S) $(grep -oE 'threads=[12] pool-fraction=0.655: [0-9]+ tx/s, consistent: [a-z]+' "$OUT/$NAME-t$T.txt" | tr '\n' ' ') median-after-10s $med" | tee -a "$OUT/summary.txt" ;;
esac
