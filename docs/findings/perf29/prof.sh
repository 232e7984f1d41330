#!/usr/bin/env bash
# perf29: one TPC-C run (4 warehouses, in memory, 12 s) on a fresh copy of DB, measured from its 2nd second for 8 s.
# usage (under /work/timed): prof.sh BIN DB OUT T TAG MODE
#   MODE stat:   perf stat --per-thread (software events and tracepoints), plus each thread's /proc schedstat
#                (run time, runqueue wait) and /proc/stat (steal) at the window's two ends
#   MODE record: perf record -e cpu-clock -F 2000 -g (kernel call graphs; user frames without frame pointers are partial)
#   MODE sched:  perf sched record (switches, wakeups) for the 8 s
#   MODE switchd: the same with DWARF call graphs (user frames too), for offcpu.py
#   MODE switch: perf record -e sched:sched_switch -g (where each thread leaves its CPU: kernel stacks)
#   MODE fresh:  perf record (no call graphs) of page-cache pages added and deleted (log34: fresh pages the logs
#                write into; docs/findings/log34/fresh.py)
# SCRATCH (environment, default /work/tmp-perf29): where the run's copy of DB goes
set -u
BIN=$1; DB=$2; OUT=$3; T=$4; TAG=$5; MODE=$6; mkdir -p $OUT
C=${SCRATCH:-/work/tmp-perf29}/c; rm -rf $C; cp -r $DB $C
S=$OUT/$TAG.samples; rm -f $S
$BIN bench --workload tpcc --warehouses 4 --threads $T --seconds 12 --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db $C --tpcc-samples $S > $OUT/$TAG.txt 2>&1 &
P=$!
while ! [ -f $S ] || [ $(grep -vc '^#\|^seconds' $S) -lt 2 ]; do sleep 0.05; done
snap() { # tid comm utime stime run_ns wait_ns nr_slices; then the steal line
  for t in /proc/$P/task/*; do echo "$(basename $t) $(cut -d' ' -f2,14,15 $t/stat) $(cat $t/schedstat)"; done
  echo "cpu $(head -1 /proc/stat)"; }
snap > $OUT/$TAG.snap0
case $MODE in
  stat) perf stat --per-thread -x, -o $OUT/$TAG.stat -p $P -e task-clock,context-switches,cpu-migrations,page-faults,sched:sched_wakeup,sched:sched_switch,syscalls:sys_enter_futex,syscalls:sys_enter_pwrite64,syscalls:sys_enter_write,syscalls:sys_enter_io_uring_enter,syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync,syscalls:sys_enter_sched_yield,syscalls:sys_enter_madvise,syscalls:sys_enter_mmap,syscalls:sys_enter_munmap -- sleep 8 ;;
  record) perf record -e cpu-clock -F 2000 -g -p $P -o $OUT/$TAG.data -- sleep 8 > $OUT/$TAG.perf.log 2>&1 ;;
  sched) perf sched record -p $P -o $OUT/$TAG.sched -- sleep 8 > $OUT/$TAG.perf.log 2>&1 ;;
  switchd) perf record -e sched:sched_switch --call-graph dwarf,8192 -p $P -o $OUT/$TAG.data -- sleep 8 > $OUT/$TAG.perf.log 2>&1 ;;
  switch) perf record -e sched:sched_switch -g -p $P -o $OUT/$TAG.data -- sleep 8 > $OUT/$TAG.perf.log 2>&1 ;;
  fresh) perf record -e filemap:mm_filemap_add_to_page_cache,filemap:mm_filemap_delete_from_page_cache -p $P -o $OUT/$TAG.data -- sleep 8 > $OUT/$TAG.perf.log 2>&1 ;;
esac
snap > $OUT/$TAG.snap1
wait $P
rm -rf $C
