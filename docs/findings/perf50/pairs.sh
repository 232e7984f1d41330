#!/bin/bash
# perf50: the branch's build against main's (both built from `git archive` trees in /work/tmp-perf50/src-NAME, their
# sources touched, in one target directory, /work/tgt-perf50/rel: R49-O25), 60 s pairs at 1 and 2 threads, main first
# in odd rounds. usage: pairs.sh BUILD ROUNDS TAG   (BUILD in /work/tmp-perf50/bin) -> /work/tmp-perf50/pairs/TAG-t{1,2}
P=$(cd "$(dirname "$0")/../speed37" && pwd)
B=$1; R=$2; TAG=$3
for T in 1 2; do
  /work/timed $P/pairs.sh $T $R /work/tmp-perf50/db /work/tmp-perf50/pairs/$TAG-t$T main=/work/tmp-perf50/bin/main perf50=/work/tmp-perf50/bin/$B
done
