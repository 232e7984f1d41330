#!/bin/bash
# io46: pairs, 2 threads then 1, each its own /work/timed call (call $1 = a or b)
P=/work/wt/io46/docs/findings/speed37/pairs.sh; DB=/work/tmp-lead44/db; O=/work/tmp-io46/pairs
for T in 2 1; do
  /work/timed $P $T 2 $DB $O/t$T$1 main=/work/tmp-io46/bin/main io46=/work/tmp-io46/bin/io46w
done
