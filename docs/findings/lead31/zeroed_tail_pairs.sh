#!/bin/bash
# R31-1's cost and gain: A (old) against B (new), pairs in alternating order, each run under /work/timed:
# TPC-C 4 warehouses in memory (nondurable-autocommit, apply27's pairs.sh, 12 s) at 1 and 2 threads, three
# rounds; then TPC-C durable on the reduced (smoke) database, 8 s, 1 and 2 threads, three rounds.
# usage: A=old/bufpool B=new/bufpool OUT=dir zeroed_tail_pairs.sh   (session 31: A = 9eeaaab, B = R31-1's build)
set -u
A=${A:?old binary}; B=${B:?new binary}; OUT=${OUT:?output dir}; mkdir -p $OUT
DB=/work/db31
[ -d $DB ] || /work/heavy $A bench --workload tpcc --warehouses 4 --seconds 0.1 --threads 1 --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db $DB > $OUT/load.txt 2>&1
for r in 1 2 3; do
  for T in 1 2; do
    if [ $((r % 2)) = 1 ]; then o="old=$A new=$B"; else o="new=$B old=$A"; fi
    /work/timed bash /work/main/docs/findings/apply27/pairs.sh $DB $OUT $T $o
  done
done
# durable, smoke database, 8 s
SDB=/work/db31s
[ -d $SDB ] || $A bench --workload tpcc --smoke --seconds 0.1 --btree-systems bufpool-btree --tpcc-db $SDB > /dev/null 2>&1
for r in 1 2 3; do
  for T in 1 2; do
    if [ $((r % 2)) = 1 ]; then o="old=$A new=$B"; else o="new=$B old=$A"; fi
    for nb in $o; do
      name=${nb%%=*}; bin=${nb#*=}
      rm -rf $SDB.run; cp -r $SDB $SDB.run
      /work/timed $bin bench --workload tpcc --smoke --threads $T --seconds 8 --durability durable --btree-systems bufpool-btree --tpcc-db $SDB.run > $OUT/dur-$name-t$T-r$r.txt 2>&1
      echo "dur t$T $name r$r $(grep -oE 'threads=[12][^:]*: [0-9]+ tx/s' $OUT/dur-$name-t$T-r$r.txt | head -1)" | tee -a $OUT/summary.txt
    done
  done
done
rm -rf $SDB.run
