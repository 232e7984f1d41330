#!/bin/bash
# perf49: e2a (feef23e built from a git archive tree as main's build was, its sources touched) against main at
# 1 thread, three rounds: whether e2's 1-thread losses (pairs4.sh, pairs5.sh) follow the build's directory.
P=$(cd "$(dirname "$0")/../speed37" && pwd)
/work/timed $P/pairs.sh 1 3 /work/tmp-lead44/db /work/tmp-perf49/pairs/t1e main=/work/tmp-perf49/bin/main perf49=/work/tmp-perf49/bin/e2a
