#!/bin/bash
# Runs TPC-C (4 warehouses in memory, T threads) on a fresh copy of DB and SIGKILLs it once its per-second samples
# (--tpcc-samples) show S seconds of the run, so its txn.log keeps every record written out (no close, no
# checkpoint cut). usage (under /work/heavy): killrun.sh BIN DB COPY T S
BIN=$1; DB=$2; COPY=$3; T=$4; S=$5
rm -rf $COPY $COPY.samples; cp -r $DB $COPY; touch $COPY.samples
$BIN bench --workload tpcc --warehouses 4 --threads $T --seconds 60 --pool-fraction 8 --btree-systems bufpool-btree \
  --tpcc-db $COPY --tpcc-samples $COPY.samples > $COPY.txt 2>&1 &
pid=$!
until [ $(wc -l < $COPY.samples) -gt $S ]; do sleep 0.05; done
kill -9 $pid; wait $pid 2>/dev/null
cat $COPY.samples
