#!/bin/bash
# rep52: the phase builds (phases.patch over main 5c681ec and over 6f601a5) on the 6 s state, one recovery each,
# alternated, two rounds; one /work/timed call.  usage: rep52e.sh OUT
set -u
D=/work/tmp-rep52; O=$D/rec; OUT=$1; mkdir -p $OUT
for r in 1 2; do for n in base new2; do
  rm -rf $O/db; cp -r $O/crashed $O/db; sync; echo 3 > /proc/sys/vm/drop_caches
  /usr/bin/time -f "%e s wall %U user %S sys" $D/bufpool-$n-ph bench --workload tpcc --warehouses 4 --pool-fraction 8 \
    --btree-systems bufpool-btree --tpcc-db $O/db --tpcc-verify $O/acks > $OUT/phases-$n-$r.txt 2>&1
  echo "$r $n $(grep PHASE $OUT/phases-$n-$r.txt | tr '\n' ' ') $(tail -1 $OUT/phases-$n-$r.txt) $(grep -c 'consistent: true' $OUT/phases-$n-$r.txt)"
done; done
