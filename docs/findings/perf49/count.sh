#!/bin/bash
# perf49: lead28's fixed seeded transactions under callgrind, 50,000 and 150,000, for one build (nwo48/count.sh's).
# usage: count.sh NAME   (the build is /work/tmp-perf49/bin/NAME; the DB a byte copy of /work/tmp-lead44/db)
F=$(cd "$(dirname "$0")/.." && pwd)
N=$1; C=/work/tmp-perf49/cg
/work/heavy bash $F/lead28/cg.sh /work/tmp-perf49/bin/$N /work/tmp-perf49/db $C ${N}50k 50000 > $C/${N}50k.per-type.txt
/work/heavy bash $F/lead28/cg.sh /work/tmp-perf49/bin/$N /work/tmp-perf49/db $C ${N}150k 150000 > $C/${N}150k.per-type.txt
for k in 50k 150k; do callgrind_annotate --threshold=100 --auto=no $C/$N$k.cg > $C/$N$k.self 2>/dev/null; done
echo done $N
