#!/bin/bash
# the four timed calls, one after the other (each waits for the exclusive lock)
S=/work/wt/cpu/docs/findings/cpu25/ab.sh; D=/work/tmp-cpu25
/work/timed $S $D/bufpool-base $D/bufpool-2way $D/db $D/ab 1 ABBA
/work/timed $S $D/bufpool-base $D/bufpool-2way $D/db $D/ab 2 ABBA
/work/timed $S $D/bufpool-base $D/bufpool-2way $D/db $D/ab 1 BAAB
/work/timed $S $D/bufpool-base $D/bufpool-2way $D/db $D/ab 2 BAAB
echo alldone >> $D/ab/summary.txt
# then two more calls (queued 19:24 UTC, run 19:39-19:41)
# /work/timed $S $D/bufpool-base $D/bufpool-2way $D/db $D/ab 2 ABBA
# /work/timed $S $D/bufpool-base $D/bufpool-2way $D/db $D/ab 1 ABBA
