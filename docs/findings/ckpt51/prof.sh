#!/usr/bin/env bash
# Session 51 (ckpt51): one 2-thread TPC-C run in memory on a fresh copy of DB under a `perf record`
# of the process (cpu-clock at F Hz, no call graph: each sample's thread and leaf), beside speed36's mon.py (per-thread
# jiffies a second) and the run's per-second samples. Run under /work/timed. (Session 51's two runs found no pid for
# mon.py: its pgrep then matched the name `bufpool`, not the binary's own; their mon.csv is the machine's alone.)
# usage: prof.sh BIN DB OUT SECS [F] [ENV=VALUE ...]
set -u; BIN=$1; DB=$2; OUT=$3; S=$4; F=${5:-999}; shift 5 2>/dev/null || shift $#
HERE=$(cd "$(dirname "$0")" && pwd); mkdir -p $OUT
rm -rf $DB.prof; cp -r $DB $DB.prof; sync
PIDF=$OUT/.pid; : > $PIDF
python3 $HERE/../speed36/mon.py $OUT/mon.csv $PIDF & MON=$!
env "$@" perf record -e cpu-clock -F $F -o $OUT/perf.data -- \
  $BIN bench --workload tpcc --warehouses 4 --threads 2 --seconds $S --pool-fraction 8 --btree-systems bufpool-btree \
  --tpcc-db $DB.prof --tpcc-samples $OUT/samples.csv --json $OUT/run.json > $OUT/run.txt 2> $OUT/perf.err &
PP=$!; sleep 0.5; pgrep -P $PP > $PIDF; wait $PP
sleep 1.5; kill $MON; rm -rf $DB.prof
