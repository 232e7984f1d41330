#!/usr/bin/env bash
# Session 40 (speed40): runs BIN (from the environment, default /work/wt/speed40-bin/main) with its --tpcc-db
# copied to a tmpfs (/dev/shm/speed40-run) first, so that speed37/pairs.sh can pair the same build on /work against
# itself on tmpfs (NAME=shm-wrap.sh as a "build"). The copy is made before the bench starts, outside its measured
# seconds; exec keeps the pid that steady.sh's mon.py watches. On tmpfs O_DIRECT is refused and the data files
# are opened buffered (the bench says so); fdatasync there costs nothing.
set -u
BIN=${SHM_BIN:-/work/wt/speed40-bin/main}
args=("$@")
for i in "${!args[@]}"; do
  if [ "${args[$i]}" = --tpcc-db ]; then src=${args[$((i + 1))]}; args[$((i + 1))]=/dev/shm/speed40-run; fi
done
rm -rf /dev/shm/speed40-run; cp -r "$src" /dev/shm/speed40-run
exec $BIN "${args[@]}"
