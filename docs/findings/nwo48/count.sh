#!/bin/bash
# nwo48: lead28's fixed seeded transactions under callgrind, 50,000 and 150,000, for one build. usage: count.sh NAME
F=/work/wt/nwo48/docs/findings
N=$1
/work/heavy bash $F/lead28/cg.sh /work/tmp-nwo48/bin/$N /work/tmp-nwo48/db /work/tmp-nwo48/cg ${N}50k 50000 > /work/tmp-nwo48/cg/${N}50k.per-type.txt
/work/heavy bash $F/lead28/cg.sh /work/tmp-nwo48/bin/$N /work/tmp-nwo48/db /work/tmp-nwo48/cg ${N}150k 150000 > /work/tmp-nwo48/cg/${N}150k.per-type.txt
for k in 50k 150k; do callgrind_annotate --threshold=100 --auto=no /work/tmp-nwo48/cg/$N$k.cg > /work/tmp-nwo48/cg/$N$k.self 2>/dev/null; done
echo done $N
