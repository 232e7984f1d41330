#!/bin/bash
# cpu32's timed pairs (session 32): A = main 995a9a1 (/work/tmp-cpu32/bin/base), B = the build named by B= in the
# environment (default head); each /work/timed call one A B B A (apply27's pairs.sh), one call per thread count
# given; summaries in /work/tmp-cpu32/pairs-$B/summary.txt. DB loaded once by A with lead28/cg.sh's header command.
T=/work/tmp-cpu32; B=${B:-head}; OUT=$T/pairs-$B
P=$(dirname "$0")/../apply27/pairs.sh
for t in "$@"; do
  /work/timed bash $P $T/db $OUT $t A=$T/bin/base B=$T/bin/$B B=$T/bin/$B A=$T/bin/base
  sleep 20
done
echo PAIRS_DONE
