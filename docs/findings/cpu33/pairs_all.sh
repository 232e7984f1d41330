#!/bin/bash
# cpu33's timed pairs (session 33): A = main 3a2aaf9 (/work/tmp-cpu33/bin/base), B = the build named by B= in the
# environment (default head); each /work/timed call one A B B A (apply27's pairs.sh), one call per thread count
# given; summaries in /work/tmp-cpu33/pairs-$B/summary.txt. DB loaded once with lead28/cg.sh's header command
# (cpu32's, copied).
T=/work/tmp-cpu33; B=${B:-head}; OUT=$T/pairs-$B
P=$(dirname "$0")/../apply27/pairs.sh
for t in "$@"; do
  /work/timed bash $P $T/db $OUT $t A=$T/bin/base B=$T/bin/$B B=$T/bin/$B A=$T/bin/base
  sleep 20
done
echo PAIRS_DONE
