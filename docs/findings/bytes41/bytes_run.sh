#!/usr/bin/env bash
# Session 41 (bytes41): one 60 s TPC-C run (4 warehouses in memory, nondurable-autocommit, T threads) of a build
# with count.patch applied, on a fresh copy of DB kept after the run (OUT/db), with BUFPOOL_LOG_BYTES=OUT/bytes.tsv:
# every log write-out's bytes by log, record kind, op and table, summed at the start and end of the measured
# seconds. Then bytes_table.py with the run's committed transactions (tx/s x seconds, the bench's own summary).
# usage: /work/heavy bytes_run.sh BIN DB OUT [T] [ENV=VALUE ...]
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$1; DB=$2; OUT=$3; T=${4:-2}; shift 4 2>/dev/null || shift $#
mkdir -p $OUT; rm -rf $OUT/db; cp -a $DB $OUT/db; : > $OUT/bytes.tsv
env "$@" BUFPOOL_LOG_BYTES=$OUT/bytes.tsv $BIN bench --workload tpcc --warehouses 4 --threads $T --seconds 60 \
  --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db $OUT/db --tpcc-samples $OUT/samples.csv \
  --json $OUT/run.json > $OUT/run.txt 2>&1
grep -oE "threads=$T pool-fraction=8: [0-9]+ tx/s, consistent: [a-z]+" $OUT/run.txt
python3 - $OUT/run.json > $OUT/committed.txt <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
def find(o):
    if isinstance(o, dict):
        if "ops_per_sec" in o and "seconds" in o:
            return o["ops_per_sec"] * o["seconds"]
        for v in o.values():
            r = find(v)
            if r: return r
    if isinstance(o, list):
        for v in o:
            r = find(v)
            if r: return r
find_r = find(j); print(int(find_r) if find_r else 0)
PY
python3 $HERE/bytes_table.py $OUT/bytes.tsv $(cat $OUT/committed.txt) > $OUT/table.md
cat $OUT/table.md
