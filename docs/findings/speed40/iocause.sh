#!/usr/bin/env bash
# Session 40 (speed40): what one run of ours writes, by cause. One SECS s run of BIN at T threads (4 warehouses in
# memory, nondurable-autocommit, as speed36/steady.sh runs it) on a fresh copy of DB under `perf record` of the
# tracepoints that name every write and sync the run makes: pwrite64/pwritev/write (the logs' writes through the
# page cache), fdatasync/fsync and ext4_sync_file_enter (every sync, the data files' io_uring syncs among them),
# fallocate (the log cuts' punches), iomap_dio_rw_begin (the data files' O_DIRECT page writes, whoever issues
# them), and block_rq_issue on the device (what the virtio disk gets: requests, bytes; only those issued in the
# process's threads, as perf record of a command sees: O_DIRECT writes and fsync-driven writeback, not jbd2's
# commits and discards or a flusher kworker's writeback). Beside it:
# /proc/diskstats of the device before and after, the process's fd table (fd -> file) and the DB's inodes
# (ino -> file), so that iocause.py can split it all by file. perf's data to DATA (default /work/tmp-speed40).
# Run under /work/timed. usage: iocause.sh BIN DB OUT TAG T [SECS] [ENV=VALUE ...]
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$1; DB=$2; OUT=$3; TAG=$4; T=$5; S=${6:-60}; shift 5; [ $# -gt 0 ] && shift
DATA=${DATA:-/work/tmp-speed40}; DEV=${DEV:-vda}
mkdir -p $OUT
rm -rf $DB.run; cp -r $DB $DB.run; sync; sleep 2
stat -c '%i %n' $DB.run/bufpool-btree/* > $OUT/$TAG-t$T.inodes
grep " $DEV " /proc/diskstats > $OUT/$TAG-t$T.diskstats; date +%s.%N >> $OUT/$TAG-t$T.diskstats
env "$@" perf record -q -o $DATA/$TAG-t$T.perf.data -m 1024 \
  -e syscalls:sys_enter_pwrite64,syscalls:sys_enter_pwritev,syscalls:sys_enter_write,syscalls:sys_enter_fdatasync \
  -e syscalls:sys_enter_fsync,syscalls:sys_enter_fallocate,ext4:ext4_sync_file_enter,iomap:iomap_dio_rw_begin -e block:block_rq_issue \
  -- $BIN bench --workload tpcc --warehouses 4 --threads $T --seconds $S --pool-fraction 8 \
  --btree-systems bufpool-btree --tpcc-db $DB.run --tpcc-samples $OUT/$TAG-t$T.samples.csv \
  > $OUT/$TAG-t$T.txt 2> $OUT/$TAG-t$T.err &
PP=$!
k=0
while kill -0 $PP 2>/dev/null; do  # the fd table every 2 s (the open reuses fds before the run's are opened)
  sleep 2; k=$((k + 1)); P=$(pgrep -P $PP -f "bench --workload" | head -1)
  [ -n "$P" ] && ls -l /proc/$P/fd 2>/dev/null | awk '{print $(NF-2), $NF}' > $OUT/$TAG-t$T.fds.$(printf %03d $k)
done
wait $PP
grep " $DEV " /proc/diskstats >> $OUT/$TAG-t$T.diskstats; date +%s.%N >> $OUT/$TAG-t$T.diskstats
perf script -i $DATA/$TAG-t$T.perf.data -F tid,time,event,trace 2>/dev/null > $DATA/$TAG-t$T.script
python3 $HERE/iocause.py $OUT/$TAG-t$T $DATA/$TAG-t$T.script | tee $OUT/$TAG-t$T.table
rm -rf $DB.run
