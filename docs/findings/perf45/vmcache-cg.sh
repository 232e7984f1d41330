#!/bin/bash
# perf45: vmcache's instructions by transaction type at 1 thread in memory, as BENCHMARKS.md "TPC-C: instructions
# per transaction against vmcache" took them (4 warehouses, 20 s after the load, under callgrind), then per type
# with perf45/vmcache_types.py. Run under /work/heavy. usage: vmcache-cg.sh OUT
OUT=$1; mkdir -p $OUT; BLK=/work/tmp-perf45/vmc.blk
[ -f $BLK ] || truncate -s 4G $BLK
cd $OUT && env BLOCK=$BLK VIRTGB=4 PHYSGB=2 DATASIZE=4 THREADS=1 RUNFOR=20 valgrind --tool=callgrind \
  --callgrind-out-file=$OUT/vm.cg /tmp/vmcache/vmcache > $OUT/vm.txt 2>&1
callgrind_annotate --inclusive=yes --tree=caller $OUT/vm.cg > $OUT/vm.annot 2>&1
callgrind_annotate --inclusive=yes --tree=calling $OUT/vm.cg > $OUT/vm.calling 2>&1
