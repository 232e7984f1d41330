#!/usr/bin/env bash
# Session 44 (oom44): one out-of-memory TPC-C run (lead33/oom33.sh's `ours` step: 20 warehouses, 40 s, pool 0.655 x
# the data = 1 GiB) split by cause. speed40/iocause.sh's tracepoints (every log write and sync, the data files'
# O_DIRECT writes, punches, the device's requests) under `perf record`, plus the logs' and data files' sizes
# (`stat`: logical length and allocated 512 B blocks) every 0.5 s, so that each checkpoint can be told by the log
# that crossed the bound. Run under /work/timed. usage: cause.sh BIN DB OUT TAG T
# Writes OUT/TAG-tT.{txt,json,samples.csv,sizes,table,...}; perf data to DATA (default /work/tmp-oom44/perf).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
S40=$HERE/../speed40
BIN=$1; DB=$2; OUT=$3; TAG=$4; T=$5
DATA=${DATA:-/work/tmp-oom44/perf}; DEV=${DEV:-vda}
mkdir -p $OUT $DATA
rm -rf $DB.run; cp -r $DB $DB.run; sync; sleep 2
stat -c '%i %n' $DB.run/bufpool-btree/* > $OUT/$TAG-t$T.inodes
grep " $DEV " /proc/diskstats > $OUT/$TAG-t$T.diskstats; date +%s.%N >> $OUT/$TAG-t$T.diskstats
perf record -q -o $DATA/$TAG-t$T.perf.data -m 1024 \
  -e syscalls:sys_enter_pwrite64,syscalls:sys_enter_pwritev,syscalls:sys_enter_write,syscalls:sys_enter_fdatasync \
  -e syscalls:sys_enter_fsync,syscalls:sys_enter_fallocate,ext4:ext4_sync_file_enter,iomap:iomap_dio_rw_begin -e block:block_rq_issue \
  -- $BIN bench --workload tpcc --warehouses 20 --threads $T --seconds 40 --pool-fraction 0.655 \
  --btree-systems bufpool-btree --tpcc-db $DB.run --tpcc-samples $OUT/$TAG-t$T.samples.csv --json $OUT/$TAG-t$T.json \
  > $OUT/$TAG-t$T.txt 2> $OUT/$TAG-t$T.err &
PP=$!
k=0; rm -f $OUT/$TAG-t$T.sizes
while kill -0 $PP 2>/dev/null; do
  sleep 0.5; k=$((k + 1))
  { echo "T $(date +%s.%N)"; stat -c '%n %s %b' $DB.run/bufpool-btree/*.wal $DB.run/bufpool-btree/txn.log 2>/dev/null | sed 's|.*/||'; } >> $OUT/$TAG-t$T.sizes
  if [ $((k % 4)) = 0 ]; then
    P=$(pgrep -P $PP -f "bench --workload" | head -1)
    [ -n "$P" ] && ls -l /proc/$P/fd 2>/dev/null | awk '{print $(NF-2), $NF}' > $OUT/$TAG-t$T.fds.$(printf %03d $k)
  fi
done
wait $PP
grep " $DEV " /proc/diskstats >> $OUT/$TAG-t$T.diskstats; date +%s.%N >> $OUT/$TAG-t$T.diskstats
perf script -i $DATA/$TAG-t$T.perf.data -F tid,time,event,trace 2>/dev/null > $DATA/$TAG-t$T.script
python3 $HERE/cause.py $OUT/$TAG-t$T $DATA/$TAG-t$T.script | tee $OUT/$TAG-t$T.table
rm -rf $DB.run $DATA/$TAG-t$T.perf.data
