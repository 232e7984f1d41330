#!/bin/bash
# Why io_uring punts the checkpoint's direct writes (session 26, ckpt26): one 2-thread TPC-C run on a fresh copy of
# a loaded database under `perf record -g` of the tracepoints that tell the cases apart (kprobes are not available
# on this kernel): io_uring's submissions and punts (`io_uring_queue_async_work`), iomap's `iomap_dio_rw_begin`
# (its flags: an inline attempt has NOWAIT, io-wq's blocking retry not), ext4's inode updates (with call chains:
# block allocation, unwritten-extent conversion, i_size extension, mtime) and page-cache deletions.
# Usage: [BUFPOOL_TPCC_LOG_MAX=BYTES] punt.sh BIN TAG MODE [SECONDS] under /work/heavy; MODE: 0 the copy synced
# (its pages cached, clean), 1 synced and dropped from the cache (POSIX_FADV_DONTNEED), 2 not synced (dirty, as
# /work/ab25.sh leaves it). Then: perf script -i TAG.perf -F comm,tid,event,trace | punts.py /dev/stdin
set -eu
BIN=$1 TAG=$2 DROP=$3 S=${4:-12}
D=/work/tmp-ckpt26/punt; C=$D/copy-$TAG
rm -rf $C; cp -r /work/tmp-ckpt26/db $C; [ "$DROP" = 2 ] || sync
if [ "$DROP" = 1 ]; then
  python3 -c '
import os,sys,glob
for f in glob.glob(sys.argv[1]+"/bufpool-btree/*.db"):
    fd=os.open(f,os.O_RDONLY); os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED); os.close(fd)' $C
fi
fincore -b -n -o RES $C/bufpool-btree/*.db | awk '{s+=$1} END {print "bytes of the data files cached before the run:", s}' > $D/$TAG.cached
date -u +%T > $D/$TAG.out
perf record -q -g -o $D/$TAG.perf -e io_uring:io_uring_submit_req,io_uring:io_uring_queue_async_work,iomap:iomap_dio_rw_begin,ext4:ext4_mark_inode_dirty,filemap:mm_filemap_delete_from_page_cache -- \
  $BIN bench --workload tpcc --warehouses 4 --threads 2 --seconds $S --pool-fraction 8 --btree-systems bufpool-btree --tpcc-db $C >> $D/$TAG.out 2>&1
date -u +%T >> $D/$TAG.out
rm -rf $C
