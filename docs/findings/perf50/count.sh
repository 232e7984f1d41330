#!/bin/bash
# perf50: perf49/count.sh NAME in /work/tmp-perf50 (the build /work/tmp-perf50/bin/NAME, the DB /work/tmp-perf50/db:
# README.txt). Run it as it is (it takes /work/heavy itself).
D=/work/tmp-perf50 exec bash "$(dirname "$0")/../perf49/count.sh" "$@"
