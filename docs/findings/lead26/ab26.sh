#!/usr/bin/env bash
# Same-hour sitting: TPC-C 4 warehouses in memory, nondurable-autocommit; per round and thread count, vmcache
# (median of its per-second samples after the third) then each of our builds on a fresh copy of one database,
# our builds' order reversed in even rounds (first-run bias). Ours reported two ways: the whole run's tx/s (the
# bench's figure), and, the same statistic as vmcache's, the median of its per-second samples from the fourth
# second on (its last, partial line left out). Run under /work/timed.
# Session 33: vmcache's banner and header lines no longer enter its median, and ours starts at its 4th second
# (a sample's seconds is its second's end), as vmcache's does (BENCHMARKS.md, "Correction (session 33)").
# usage: ab26.sh OUT ROUNDS SECS NAME=BIN [NAME=BIN ...]
set -u
OUT=$1; ROUNDS=$2; S=$3; shift 3; mkdir -p $OUT; D=/work/tmp-ab26; rm -rf $D; mkdir -p $D
first=${1#*=}
$first bench --workload tpcc --warehouses 4 --seconds 0.1 --threads 1 --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db $D/db > $OUT/load.txt 2>&1
for r in $(seq 1 $ROUNDS); do
  if [ $((r % 2)) = 0 ]; then order=$(printf '%s\n' "$@" | tac); else order=$(printf '%s\n' "$@"); fi
  for T in 1 2; do
    env BLOCK=/work/vmc.blk VIRTGB=16 PHYSGB=4 DATASIZE=4 RUNFOR=15 THREADS=$T /tmp/vmcache/vmcache > $OUT/vmc-r$r-t$T.csv 2>&1
    v=$(awk -F, '$1 ~ /^[0-9]+$/ && $1>=3 {print $2}' $OUT/vmc-r$r-t$T.csv | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    echo "r$r t$T vmcache $(date +%H:%M:%S) $v" | tee -a $OUT/summary.txt
    for nb in $order; do
      name=${nb%%=*}; bin=${nb#*=}
      rm -rf $D/c; cp -r $D/db $D/c
      smp=$OUT/$name-r$r-t$T.samples.csv; rm -f $smp
      $bin bench --workload tpcc --warehouses 4 --threads $T --seconds $S --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db $D/c --tpcc-samples $smp > $OUT/$name-r$r-t$T.txt 2>&1
      med=$(grep -v '^#' $smp | awk -F, 'NR>1 && $1>3.5 {print $2}' | sed '$d' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
      echo "r$r t$T $name $(date +%H:%M:%S) $(grep -oE 'threads=[12] pool-fraction=8: [0-9]+ tx/s, consistent: [a-z]+' $OUT/$name-r$r-t$T.txt | tr '\n' ' ') steady-median $med" | tee -a $OUT/summary.txt
    done
  done
done
rm -rf $D
