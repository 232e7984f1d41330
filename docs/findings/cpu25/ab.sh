#!/usr/bin/env bash
# Alternated A/B of TPC-C 4 wh in memory on fresh copies of one database (as cpu24/ab2t.sh, threads given).
# usage: ab.sh A_BIN B_BIN DB OUT THREADS ORDER(e.g. ABBA) [secs]; run each pair under /work/timed.
set -u
A=$1; B=$2; DB=$3; OUT=$4; T=$5; ORD=$6; S=${7:-12}; mkdir -p $OUT; C=$DB.copy
n=$(ls $OUT | grep -c '^[AB][0-9]*\.txt$')
for x in $(echo $ORD | grep -o .); do
  n=$((n+1)); bin=$A; [ $x = B ] && bin=$B
  rm -rf $C; cp -r $DB $C
  t0=$(date -u +%H:%M:%S)
  $bin bench --workload tpcc --warehouses 4 --threads $T --seconds $S --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db $C > $OUT/$x$n.txt 2>&1
  echo "$x$n T=$T $t0 $(grep -oE 'threads=[12] pool-fraction=8: [0-9]+ tx/s, consistent: [a-z]+' $OUT/$x$n.txt | tr '\n' ' ')" | tee -a $OUT/summary.txt
done
rm -rf $C
