#!/bin/bash
# TPC-C durable on a small ext4 (loop): SIGKILL once the device is full, verify on the full device, then grow it and verify.
set -u
W=/work/tmp-faults30; M=$W/ext/mnt; IMG=$W/ext/img
umount $M 2>/dev/null; mkdir -p $M; rm -f $IMG
truncate -s ${1}M $IMG && mkfs.ext4 -q -F $IMG && mount -o loop $IMG $M || exit 1
cp -a $W/dbl $M/db && sync -f $M
rm -f $W/ext/acks
env BUFPOOL_TPCC_LOG_MAX=${LOGMAX:-65536} BUFPOOL_TPCC_LOG_REWRITE=${REWRITE:-} $W/bin/bufpool bench --workload tpcc --smoke --btree-systems bufpool-btree --tpcc-db $M/db --threads 2 --durability durable --seconds 600 --tpcc-acks $W/ext/acks > $W/ext/run.out 2> $W/ext/run.err &
P=$!
for i in $(seq 1 3000); do
  if grep -q 'No space' $W/ext/run.err; then sleep ${2:-0}; kill -9 $P; echo "killed at full"; break; fi
  if ! kill -0 $P 2>/dev/null; then echo "ended by itself"; break; fi
  sleep 0.01
done
wait $P; df -k $M | tail -1
echo "== verify on the full device"
$W/bin/bufpool bench --workload tpcc --smoke --btree-systems bufpool-btree --tpcc-db $M/db --tpcc-verify $W/ext/acks 2>&1 | tail -4; echo "rc=${PIPESTATUS[0]}"
df -k $M | tail -1
echo "== again"
$W/bin/bufpool bench --workload tpcc --smoke --btree-systems bufpool-btree --tpcc-db $M/db --tpcc-verify $W/ext/acks 2>&1 | tail -4; echo "rc=${PIPESTATUS[0]}"
umount $M && truncate -s 96M $IMG && e2fsck -fy $IMG >/dev/null 2>&1; resize2fs $IMG >/dev/null 2>&1; mount -o loop $IMG $M
echo "== verify after growing"
$W/bin/bufpool bench --workload tpcc --smoke --btree-systems bufpool-btree --tpcc-db $M/db --tpcc-verify $W/ext/acks 2>&1 | tail -4; echo "rc=${PIPESTATUS[0]}"
