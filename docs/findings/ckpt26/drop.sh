#!/bin/bash
# (session 26, ckpt26) The copy's page cache against time: one build, each run on a fresh `cp -r` of the loaded
# database, P as issue15.md's protocol leaves it (not synced, cached), D synced and dropped from the page cache
# (POSIX_FADV_DONTNEED on each data file) before the run. Usage: drop.sh OUT BIN T ORDER... (e.g. PD DP PD);
# under /work/timed
set -u
OUT=$1; BIN=$2; T=$3; shift 3; mkdir -p $OUT; D=/work/tmp-ckpt26
for order in "$@"; do
  for x in $(echo $order | grep -o .); do
    rm -rf $D/c; cp -r $D/db $D/c
    if [ $x = D ]; then
      sync
      python3 -c '
import os,sys,glob
for f in glob.glob(sys.argv[1]+"/bufpool-btree/*.db"):
    fd=os.open(f,os.O_RDONLY); os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED); os.close(fd)' $D/c
    fi
    start=$(date -u +%H:%M:%S)
    $BIN bench --workload tpcc --warehouses 4 --threads $T --seconds 12 --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db $D/c > $OUT/$x-t$T-$start.txt 2>&1
    echo "t$T $order $x $start $(grep -oE 'threads=[12] pool-fraction=8: [0-9]+ tx/s, consistent: [a-z]+' $OUT/$x-t$T-$start.txt | tr '\n' ' ')" | tee -a $OUT/summary.txt
  done
done
rm -rf $D/c
