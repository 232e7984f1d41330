#!/usr/bin/env bash
# Session 35 (lead): speed35/steady60.sh with the thread count from the environment (T=1 or 2; default 2).
# Session 35 (speed35): the steady state at 2 threads. TPC-C 4 warehouses in memory, nondurable-autocommit,
# runs of SECS seconds (60: several checkpoints each), ours and vmcache alternated by round (odd rounds vmcache
# first, even rounds ours first), each of ours on a fresh copy of one database DB loaded once. Optional extra
# builds/arms NAME=BIN[:ENV=VALUE] run after ours in each round (e.g. the no-in-run-checkpoint ceiling,
# BUFPOOL_TPCC_LOG_MAX=8589934592: a measurement, not a configuration: its log grows without bound).
# vmcache: PHYSGB=8 so that its data (0.75 GB at the load, ~0.09 GB a second at 2 threads) stays in memory for
# the whole run (ab26.sh's PHYSGB=4 holds 15 s, not 60). Per run: vmcache the median of its per-second samples
# from its 3rd second; ours the whole run's tx/s (the bench's figure) and the median of its per-second samples
# from the 4th second (its last, partial line left out), as ab26.sh; plus our checkpoint seconds (more than 50
# syncs a second, as ckpt31's ckpt_seconds.sh) with their mean tx/s, and the median of the other seconds.
# Run under /work/timed. usage: steady60.sh DB OUT ROUNDS SECS NAME=BIN[:ENV=VALUE] ...
set -u; T=${T:-2}
DB=$1; OUT=$2; ROUNDS=$3; S=$4; shift 4; mkdir -p $OUT
vmc() {
  local r=$1
  env BLOCK=/work/vmc.blk VIRTGB=16 PHYSGB=8 DATASIZE=4 RUNFOR=$S THREADS=$T /tmp/vmcache/vmcache > $OUT/vmc-r$r-t$T.csv 2>&1
  local v=$(awk -F, '$1 ~ /^[0-9]+$/ && $1>=3 {print $2}' $OUT/vmc-r$r-t$T.csv | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "r$r t$T s$S vmcache $(date -u +%H:%M:%S) steady-median $v" | tee -a $OUT/summary.txt
}
ours() {
  local r=$1 nb=$2
  local name=${nb%%=*} rest=${nb#*=}; local bin=${rest%%:*} envs=""
  [ "$bin" != "$rest" ] && envs=${rest#*:}
  rm -rf $DB.run; cp -r $DB $DB.run
  local start=$(date -u +%H:%M:%S) f=$OUT/$name-r$r-t$T
  env $envs $bin bench --workload tpcc --warehouses 4 --threads $T --seconds $S --pool-fraction 8 --btree-systems bufpool-btree \
    --tpcc-db $DB.run --tpcc-samples $f.samples.csv > $f.txt 2>&1
  local med=$(grep -v '^#' $f.samples.csv | awk -F, 'NR>1 && $1>3.5 {print $2}' | sed '$d' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  local ck=$(grep -v '^#' $f.samples.csv | awk -F, 'NR>1 && $4>50 {n++; s+=$2} END {if (n) printf "%d %.0f", n, s/n; else printf "0 -"}')
  local other=$(grep -v '^#' $f.samples.csv | awk -F, 'NR>2 && $4<=50 {print $2}' | sed '$d' | sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}')
  local misses=$(grep -v '^#' $f.samples.csv | awk -F, 'NR>1 {s+=$3} END {print s+0}')
  echo "r$r t$T s$S $name $start $(grep -oE "threads=$T pool-fraction=8: [0-9]+ tx/s, consistent: [a-z]+" $f.txt) steady-median $med ckpt-seconds(n,mean) $ck other-median $other misses $misses" | tee -a $OUT/summary.txt
}
for r in $(seq 1 $ROUNDS); do
  if [ $((r % 2)) = 1 ]; then vmc $r; for nb in "$@"; do ours $r $nb; done
  else for nb in "$@"; do ours $r $nb; done; vmc $r; fi
done
rm -rf $DB.run
