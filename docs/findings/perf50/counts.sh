#!/bin/bash
# perf50: perf49/counts.sh BUILD... over /work/tmp-perf50/cg -> counts.txt (the window 50,001-150,000).
D=/work/tmp-perf50 exec bash "$(dirname "$0")/../perf49/counts.sh" "$@"
