#!/usr/bin/env bash
# Alternated A/B of TPC-C 4 wh in memory, 2 threads only, on copies of one database (as /work/tpccab2.sh).
# usage: ab2t.sh A_BIN B_BIN OUT ORDER(e.g. ABBAAB) [secs]
set -u
A=$1; B=$2; OUT=$3; ORD=$4; S=${5:-15}; mkdir -p $OUT; D=${ABDB:-/work/tmp-ab2t}; rm -rf $D; mkdir -p $D
$A bench --workload tpcc --warehouses 4 --seconds 0.1 --threads 1 --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db $D/db > /dev/null 2>&1
n=0
for x in $(echo $ORD | grep -o .); do
  n=$((n+1)); bin=$A; [ $x = B ] && bin=$B
  rm -rf $D/c; cp -r $D/db $D/c
  $bin bench --workload tpcc --warehouses 4 --threads 2 --seconds $S --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db $D/c > $OUT/$x$n.txt 2>&1
  echo "$x$n $(date +%H:%M:%S) $(grep -oE 'threads=[12] pool-fraction=8: [0-9]+ tx/s, consistent: [a-z]+' $OUT/$x$n.txt | tr '\n' ' ')" | tee -a $OUT/summary.txt
done
rm -rf $D
