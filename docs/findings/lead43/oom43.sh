#!/bin/bash
# session 43: OOM sitting, lead33's oom33.sh steps
S=/work/main/docs/findings/lead33/oom33.sh; BIN=/work/tmp-lead43/bufpool-final; DB=/work/tmp-lead43/db20; OUT=/work/tmp-lead43/oom
echo "load start $(date +%T)" >> $OUT/log.txt
/work/heavy $S load $BIN $DB >> $OUT/log.txt 2>&1
echo "load end $(date +%T)" >> $OUT/log.txt
for T in 1 2; do
  /work/timed bash -c "$S vmc $OUT $T; $S ours $BIN $DB $OUT $T MAIN43" >> $OUT/log.txt 2>&1
done
echo done >> $OUT/log.txt
