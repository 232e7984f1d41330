#!/bin/bash
# usage: ext4run.sh SIZE_MB  -- TPC-C durable on a small ext4 (loop) until full, then verify after growing room
set -u
W=/work/tmp-faults30; M=$W/ext/mnt; IMG=$W/ext/img
umount $M 2>/dev/null; mkdir -p $M; rm -f $IMG
truncate -s ${1}M $IMG && mkfs.ext4 -q -F $IMG && mount -o loop $IMG $M || exit 1
cp -a $W/dbl $M/db
df -k $M | tail -1
rm -f $W/ext/acks
timeout 300 env BUFPOOL_TPCC_LOG_MAX=${LOGMAX:-65536} $W/bin/bufpool bench --workload tpcc --smoke --btree-systems bufpool-btree --tpcc-db $M/db --threads 2 --durability durable --seconds 600 --tpcc-acks $W/ext/acks > $W/ext/run.out 2> $W/ext/run.err
echo "run rc=$?"; tail -c 1500 $W/ext/run.err; echo; df -k $M | tail -1
ls -la $M/db/bufpool-btree | grep -v bpmeta
