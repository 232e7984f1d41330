#!/bin/bash
# gap26's sitting: 2 rounds x (1, 2 threads) x two groups of variants, each call under /work/timed (under 3 min).
# B: the variants' directory (variants.sh); DB: loaded once with `B/base bench --workload tpcc --warehouses 4
# --seconds 0.1 --threads 1 --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db DB`; OUT: where results go.
B=${B:-/work/tmp-gap26/bin}; DB=${DB:-/work/tmp-gap26/db}; OUT=${OUT:-/work/tmp-gap26/out}
AB=$(dirname $0)/ab26.sh
for r in 1 2; do for T in 1 2; do
  /work/timed $AB $OUT $r $T 12 $DB base=$B/base a=$B/a b=$B/b
  /work/timed $AB $OUT $r $T 12 $DB base=$B/base c=$B/c d=$B/d e=$B/e
done; done
# Rounds 3 and 4 (2026-12-03 22:13-22:27 UTC) ran the same two calls at T=2 only (r in 3 4, T=2).
