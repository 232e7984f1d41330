#!/bin/bash
# log34: A and E in durable mode, 2 threads, 10 s each, on fresh copies; tx/s and the bench's table row (wr/tx)
D=$1; O=$2; A=$3; E=$4; mkdir -p $O   # usage (under /work/timed): durable.sh DB OUT BIN_A BIN_E
for nb in A=$A E=$E E=$E A=$A; do
  n=${nb%%=*}; b=${nb#*=}; rm -rf $D.run; cp -r $D $D.run; s=$(date -u +%H:%M:%S)
  $b bench --workload tpcc --warehouses 4 --threads 2 --seconds 10 --pool-fraction 8 --durability durable --btree-systems bufpool-btree --tpcc-db $D.run > $O/$n-$s.txt 2>&1
  echo "$n $s $(grep -E '^bufpool-btree ' $O/$n-$s.txt)" | tee -a $O/summary.txt
done
rm -rf $D.run
