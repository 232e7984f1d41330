#!/bin/bash
T=/work/tmp-fields28
P=/work/wt/fields28/docs/findings/apply27/pairs.sh
for t in 2 2 1; do
  /work/timed bash $P $T/db/tpcc4 $T/pairs $t A=$T/bin/main B=$T/bin/s2 B=$T/bin/s2 A=$T/bin/main
  sleep 20
done
echo PAIRS_DONE
