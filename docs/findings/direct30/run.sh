#!/bin/bash
# direct30: ckpt25/run.sh with its paths in /work/tmp-direct30. One TPC-C run on a fresh copy of a loaded database, sampled by sample.py; with PERF=1 under
# `perf record -F 1999 -g` too (leaf.py splits that by thread).
# Usage: [PERF=1] run.sh BIN DB THREADS SECONDS TAG   (writes $OUT/TAG.{out,samples,proc[,perf]}; under /work/timed)
set -eu
BIN=$1 DB=$2 T=$3 S=$4 TAG=$5
OUT=${OUT:-/work/tmp-direct30/runs}
mkdir -p "$OUT"
COPY=/work/tmp-direct30/copy-$TAG
rm -rf "$COPY"; cp -r "$DB" "$COPY"; sync
date -u +%H:%M:%S > "$OUT/$TAG.out"
PREFIX=()
[ "${PERF:-}" = 1 ] && PREFIX=(perf record -F 1999 -g -o "$OUT/$TAG.perf" --)
"${PREFIX[@]}" "$BIN" bench --workload tpcc --warehouses 4 --threads "$T" --seconds "$S" --pool-fraction 8 \
  --btree-systems bufpool-btree --tpcc-db "$COPY" --tpcc-samples "$OUT/$TAG.samples" >> "$OUT/$TAG.out" 2>&1 &
P=$!
if [ "${PERF:-}" = 1 ]; then sleep 0.5; P=$(pgrep -P "$P" | head -1); fi
python3 "$(dirname "$0")/../ckpt25/sample.py" "$P" "$OUT/$TAG.proc" "$COPY/bufpool-btree" &
wait
date -u +%H:%M:%S >> "$OUT/$TAG.out"
rm -rf "$COPY"
