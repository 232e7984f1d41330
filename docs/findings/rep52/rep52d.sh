#!/bin/bash
# rep52: one recovery of the 18 s state (rep52b.sh's) by main's build, then by this branch's, as rec51c.sh does one;
# one /work/timed call.  usage: rep52d.sh OUT
set -u
D=/work/tmp-rep52; O=$D/rec18; OUT=$1; mkdir -p $OUT
for nb in base=$D/bufpool-base new2=$D/bufpool-new2; do
  n=${nb%%=*}; b=${nb#*=}
  rm -rf $O/db; cp -r $O/crashed $O/db; sync; echo 3 > /proc/sys/vm/drop_caches
  /usr/bin/time -f "%e s wall %U user %S sys" $b bench --workload tpcc --warehouses 4 --pool-fraction 8 --btree-systems bufpool-btree \
    --tpcc-db $O/db --tpcc-verify $O/acks > $OUT/rec18-d-$n.txt 2>&1
  echo "3 $n $(grep -E '^recovery' $OUT/rec18-d-$n.txt) $(tail -1 $OUT/rec18-d-$n.txt) $(grep -c 'consistent: true' $OUT/rec18-d-$n.txt)"
done
