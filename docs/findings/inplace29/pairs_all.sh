#!/bin/bash
# inplace29's timed pairs: A = int29 95b7034, B = the cuts (B2 860c09b, or B=B3 6cefbf4 in the environment: then
# into pairs-B3/); each /work/timed call one A B B A (apply27's pairs.sh), one call per thread count given
T=/work/tmp-inplace29; B=${B:-B2}; OUT=$T/pairs; [ "$B" = B2 ] || OUT=$T/pairs-$B
P=/work/wt/inplace29/docs/findings/apply27/pairs.sh
for t in "$@"; do
  /work/timed bash $P $T/db/tpcc4 $OUT $t A=$T/bin/A B=$T/bin/$B B=$T/bin/$B A=$T/bin/A
  sleep 20
done
echo PAIRS_DONE
