#!/bin/bash
# One attempt at R30-25/R31-1 (RELIABILITY.md): TPC-C durable on ext4, journal aborted after 200 acks, e2fsck, verify.
# $1 = run number; a failed run keeps its files (image before e2fsck, acks, verify) in $WORK/runN.
# Needs root, mkfs.ext4, a loop device. BIN=path/to/bufpool WORK=scratch dir; STRACE=1 records the run under strace.
# Loop: for i in $(seq 100); do docs/findings/lead31/ext4ro_once.sh $i; done | sort | uniq -c
set -u
B=${BIN:-./target/release/bufpool}; W=${WORK:-/tmp/r31}; R=$W/run$1; rm -rf $R; mkdir -p $R/mnt
IMG=$R/img; M=$R/mnt
[ -d $W/loaded ] || $B bench --workload tpcc --smoke --btree-systems bufpool-btree --tpcc-db $W/loaded --seconds 0.2 >/dev/null 2>&1
truncate -s 256M $IMG && mkfs.ext4 -q -F $IMG && mount -o loop,errors=remount-ro $IMG $M || exit 9
cp -a $W/loaded $M/db && sync -f $M
DEV=$(basename $(findmnt -n -o SOURCE $M))
env BUFPOOL_TPCC_LOG_MAX=65536 BUFPOOL_TPCC_LOG_REWRITE=0 $( [ -n "${STRACE:-}" ] && echo "strace -f -tt -e trace=fdatasync,fsync,write,pwrite64,rename,openat,fallocate,ftruncate -o $R/strace" ) $B bench --workload tpcc --smoke --btree-systems bufpool-btree --tpcc-db $M/db --threads 2 --durability durable --seconds 600 --tpcc-acks $R/acks > $R/run.out 2> $R/run.err &
P=$!
while [ $(grep -vc '^#' $R/acks 2>/dev/null || echo 0) -lt 200 ]; do sleep 0.05; done
grep -vc '^#' $R/acks > $R/acks_at_trigger
echo "trigger" > /sys/fs/ext4/$DEV/trigger_fs_error
wait $P; echo "run rc=$?" > $R/rc
for i in $(seq 20); do umount $M 2>/dev/null && break; sleep 0.2; done
cp --sparse=always $IMG $R/img.before-fsck
e2fsck -fy $IMG > $R/fsck.out 2>&1; echo "fsck rc=$?" >> $R/rc
mount -o loop $IMG $M
$B bench --workload tpcc --smoke --btree-systems bufpool-btree --tpcc-db $M/db --tpcc-verify $R/acks > $R/verify.out 2>&1; echo "verify rc=$?" >> $R/rc
umount $M
if grep -q ", 0 missing" $R/verify.out && grep -q "consistent: true" $R/verify.out; then rm -rf $R; echo ok; else echo FAIL $1; fi
