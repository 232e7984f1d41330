#!/bin/bash
# rep52's restart timings, one /work/timed call (session 52): the phase builds once each on the 6 s state, then
# rec51c.sh's two rounds of the plain builds on the 6 s state (lead50's, copied) and on rec51's 12 s state (copied).
# usage: rep52a.sh OUT   (binaries in /work/tmp-rep52)
set -u
D=/work/tmp-rep52; OUT=$1; mkdir -p $OUT
S=$(dirname $0)/../rec51/rec51c.sh
one() { # one recovery of a fresh copy of $1/crashed by $2 into $3
  rm -rf $1/db; cp -r $1/crashed $1/db; sync; echo 3 > /proc/sys/vm/drop_caches
  /usr/bin/time -f "%e s wall %U user %S sys" $2 bench --workload tpcc --warehouses 4 --pool-fraction 8 \
    --btree-systems bufpool-btree --tpcc-db $1/db --tpcc-verify $1/acks > $3 2>&1
  echo "$3: $(grep -E '^recovery' $3) $(tail -1 $3) $(grep -c 'consistent: true' $3)"
}
for b in base new; do [ -x $D/bufpool-$b-ph ] && one $D/rec $D/bufpool-$b-ph $OUT/phases-$b.txt; done
O=$D/rec $S base=$D/bufpool-base new=$D/bufpool-new1 | tee $OUT/rec6.txt
cp $D/rec/v-*.txt $OUT/ 2>/dev/null
O=$D/rec12 $S new=$D/bufpool-new1 base=$D/bufpool-base | tee $OUT/rec12.txt
for f in $D/rec12/v-*.txt; do cp $f $OUT/rec12-$(basename $f); done
