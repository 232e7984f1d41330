#!/bin/bash
# io46: one timed call at T threads, three builds of one source (io46's branch; big = with speed35's run-pages.patch
# merged, 256-page checkpoint runs by BUFPOOL_EXP_RUN_PAGES=256): auto (the pool's default backend), reads
# (--bufpool-io uring-reads through io46w), big (auto backend, 1 MiB runs); round 1 in that order, round 2 reversed.
# usage: /work/timed three.sh T OUT
S=/work/wt/io46/docs/findings/speed36/steady.sh; DB=/work/tmp-lead44/db; T=$1; O=$2
A=auto=/work/tmp-io46/bin/io46/main; B=reads=/work/tmp-io46/bin/io46w; C=big=/work/tmp-io46/bin/big/main:BUFPOOL_EXP_RUN_PAGES=256
T=$T MODES=0 VMC=0 $S $DB $O/r1 60 $A $B $C
T=$T MODES=0 VMC=0 $S $DB $O/r2 60 $C $B $A
