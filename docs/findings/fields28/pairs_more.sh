#!/bin/bash
T=/work/tmp-fields28
P=/work/wt/fields28/docs/findings/apply27/pairs.sh
while ! grep -q PAIRS_DONE $T/pairs_all.log; do sleep 5; done
for t in 2 2 1; do
  sleep 20
  /work/timed bash $P $T/db/tpcc4 $T/pairs $t A=$T/bin/main B=$T/bin/s2 B=$T/bin/s2 A=$T/bin/main
done
echo PAIRS_MORE_DONE
