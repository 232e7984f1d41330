#!/usr/bin/env bash
# Session 31 (ckpt31): what a 2-thread TPC-C run's checkpoint does, by uprobes on the release binary (no debug
# prints): the checkpoint (Ours::checkpoint_txlog, entry and return), each write_dirty (a flush or checkpoint:
# its passes), each put-off answer (TreeClaim::needs_flush_for_pages' return: 1 = the run put off), each log
# flush after a pass (TreeClaim::flush_to, entry and return), each run written (write_run) and every
# fsync/fdatasync. Symbol offsets are read from BIN (nm; text segment mapped at vaddr - 0x1000, as readelf -l
# shows for these builds). Then count.py OUT/probe.txt.
# usage (under /work/timed, as root): probe.sh BIN DB OUT [THREADS] [SECONDS]
set -u
BIN=$1; DB=$2; OUT=$3; T=${4:-2}; S=${5:-12}; mkdir -p $OUT
off() { # file offset of the first symbol whose demangled name matches $1
  printf '0x%x' $(( 0x$(nm -C "$BIN" | grep -F -- "$1" | head -1 | cut -d' ' -f1) - 0x1000 ))
}
EV=/sys/kernel/tracing/uprobe_events
G=ckpt31
echo "-:$G/ckpt" >> $EV 2>/dev/null; for p in ckpt ckptr wdirty wdirtyr needsr cflush cflushr wrun; do echo "-:$G/$p" >> $EV 2>/dev/null; done
echo "p:$G/ckpt $BIN:$(off 'ours::Ours::checkpoint_txlog')" >> $EV
echo "r:$G/ckptr $BIN:$(off 'ours::Ours::checkpoint_txlog')" >> $EV
echo "p:$G/wdirty $BIN:$(off 'BufferPool>::write_dirty')" >> $EV
echo "r:$G/wdirtyr $BIN:$(off 'BufferPool>::write_dirty')" >> $EV
echo "r:$G/needsr $BIN:$(off 'TreeClaim as bufpool::wal::Wal>::needs_flush_for_pages') put_off=%ax:u8" >> $EV
echo "p:$G/cflush $BIN:$(off 'TreeClaim as bufpool::wal::Wal>::flush_to')" >> $EV
echo "r:$G/cflushr $BIN:$(off 'TreeClaim as bufpool::wal::Wal>::flush_to')" >> $EV
echo "p:$G/wrun $BIN:$(off 'BufferPool>::write_run')" >> $EV
rm -rf $DB.run; cp -r $DB $DB.run
perf record -o $OUT/probe.data -e "$G:*" -e syscalls:sys_enter_fsync -e syscalls:sys_enter_fdatasync -- \
  $BIN bench --workload tpcc --warehouses 4 --threads $T --seconds $S --pool-fraction 8 --btree-systems bufpool-btree \
  --tpcc-db $DB.run --tpcc-samples $OUT/probe.samples.csv > $OUT/probe-run.txt 2>&1
rm -rf $DB.run
for p in ckpt ckptr wdirty wdirtyr needsr cflush cflushr wrun; do echo "-:$G/$p" >> $EV; done
perf script -i $OUT/probe.data -F tid,time,event,trace > $OUT/probe.txt 2>/dev/null
