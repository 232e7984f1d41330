#!/bin/bash
# perf49: lead28's fixed seeded transactions under callgrind, 50,000 and 150,000, for one build (nwo48/count.sh's).
# usage: count.sh NAME   (the build is $D/bin/NAME; the DB $D/db, a byte copy of /work/tmp-lead44/db for perf49;
# D=/work/tmp-perf49 unless set: perf50/count.sh sets it)
F=$(cd "$(dirname "$0")/.." && pwd)
D=${D:-/work/tmp-perf49}; N=$1; C=$D/cg
/work/heavy bash $F/lead28/cg.sh $D/bin/$N $D/db $C ${N}50k 50000 > $C/${N}50k.per-type.txt
/work/heavy bash $F/lead28/cg.sh $D/bin/$N $D/db $C ${N}150k 150000 > $C/${N}150k.per-type.txt
for k in 50k 150k; do callgrind_annotate --threshold=100 --auto=no $C/$N$k.cg > $C/$N$k.self 2>/dev/null; done
echo done $N
