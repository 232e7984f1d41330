#!/bin/bash
# TPC-C durable on ext4 (loop, errors=remount-ro); after $1 s the kernel's error path forces it read-only; then
# umount, e2fsck, mount, verify.
set -u
W=/work/tmp-faults30; M=$W/ext/mnt; IMG=$W/ext/img
umount $M 2>/dev/null; mkdir -p $M; rm -f $IMG
truncate -s 256M $IMG && mkfs.ext4 -q -F $IMG && mount -o loop,errors=remount-ro $IMG $M || exit 1
cp -a $W/dbl $M/db && sync -f $M
rm -f $W/ext/acks
DEV=$(basename $(findmnt -n -o SOURCE $M))
env BUFPOOL_TPCC_LOG_MAX=${LOGMAX:-65536} BUFPOOL_TPCC_LOG_REWRITE=${REWRITE:-} $W/bin/bufpool bench --workload tpcc --smoke --btree-systems bufpool-btree --tpcc-db $M/db --threads 2 --durability ${DUR:-durable} --seconds 20 --tpcc-acks $W/ext/acks > $W/ext/run.out 2> $W/ext/run.err &
P=$!
sleep $1
echo "trigger" > /sys/fs/ext4/$DEV/trigger_fs_error
wait $P; echo "run rc=$?"; grep -v '^bufpool-btree: ' $W/ext/run.err | tail -c 1200; echo
for i in 1 2 3 4 5; do umount $M 2>/dev/null && break; sleep 0.5; done
e2fsck -fy $IMG > $W/ext/fsck.out 2>&1; echo "fsck rc=$?"
mount -o loop $IMG $M
echo "== verify"
$W/bin/bufpool bench --workload tpcc --smoke --btree-systems bufpool-btree --tpcc-db $M/db --tpcc-verify $W/ext/acks 2>&1 | tail -4; echo "rc=${PIPESTATUS[0]}"
