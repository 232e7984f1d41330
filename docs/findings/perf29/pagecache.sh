#!/usr/bin/env bash
# perf29: what a buffered write costs into fresh page-cache pages against pages already cached (under /work/timed)
# usage: pagecache.sh DIR   (512 MiB, 1 MiB writes, as dd; then the same bytes over the same cached pages)
F=$1/pc.bin
for i in 1 2; do
  rm -f $F; sync
  echo "fresh file:";      dd if=/dev/zero of=$F bs=1M count=512 2>&1 | tail -1
  echo "same pages again:"; dd if=/dev/zero of=$F bs=1M count=512 conv=notrunc 2>&1 | tail -1
  echo "fresh, under perf:"; rm -f $F; sync
  perf record -e cpu-clock -F 4000 -o $1/pc.data -- dd if=/dev/zero of=$F bs=1M count=512 2>&1 | grep copied
  perf report -i $1/pc.data --no-children --sort sym --stdio 2>/dev/null | grep '%' | head -5
done
rm -f $F $1/pc.data
