#!/usr/bin/env bash
# Session 36 (speed36): lead35/steady.sh (60 s runs, ours and vmcache alternated by round) with the protocol
# question's switch and a record of the machine's state. The thread count from the environment (T=1 or 2), the
# modes by round from MODES (one word a round: 0 = as lead35/steady.sh, 1 = `sync` and REST seconds' rest after
# our database copy and before every run, ours and vmcache alike). Odd rounds vmcache first, even rounds ours
# first. Beside the runs, mon.py writes the machine's state each second (the page cache's Dirty/Writeback, CPU
# by kind, the measured process's CPU by thread) to OUT/mon-tT.csv; each run's lines of output are stamped with
# the wall time (bash's EPOCHREALTIME), so that its seconds line up with mon.py's. Statistics as
# lead35/steady.sh; windows.py gives the per-5 s windows and the pair ratios.
# Session 37 (speed37): VMC=0 leaves vmcache's runs out (A/B pairs of our builds alone).
# Run under /work/timed. usage: T=1 MODES="0 1 1 0" steady.sh DB OUT SECS NAME=BIN[:ENV=VALUE] ...
set -u; T=${T:-2}; MODES=${MODES:-"0 1"}; REST=${REST:-5}; VMC=${VMC:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
DB=$1; OUT=$2; S=$3; shift 3; mkdir -p $OUT
PIDF=$OUT/.pid; : > $PIDF
python3 $HERE/mon.py $OUT/mon-t$T.csv $PIDF & MON=$!
stamp() { while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done; }
dirty() { awk '/^Dirty:|^Writeback:/ {printf "%s%s ", $1, $2}' /proc/meminfo; }
settle() { # $1 = mode, $2 = tag
  if [ "$1" = 1 ]; then
    local a=$EPOCHREALTIME d0=$(dirty); sync; local b=$EPOCHREALTIME; sleep $REST
    echo "$2 sync: before $d0 took $(echo "$b - $a" | bc) s, after rest $(dirty)" >> $OUT/sync-t$T.txt
  fi
}
vmc() {
  [ "$VMC" = 0 ] && return
  local r=$1 m=$2 f=$OUT/vmc-r$r-m$m-t$T
  settle $m "r$r m$m vmcache"
  local start=$EPOCHREALTIME
  env BLOCK=/work/vmc.blk VIRTGB=16 PHYSGB=8 DATASIZE=4 RUNFOR=$S THREADS=$T /tmp/vmcache/vmcache \
    > >(stamp > $f.csv) 2>&1 & local pid=$!; echo $pid > $PIDF; wait $pid; : > $PIDF; sleep 0.2
  local v=$(awk -F, '{sub(/^[0-9.]+ /, "", $1)} $1 ~ /^[0-9]+$/ && $1>=3 {print $2}' $f.csv | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  local run=$(awk -F, '{sub(/^[0-9.]+ /, "", $1)} $1 ~ /^[0-9]+$/ {s+=$2; n++} END {printf "%.0f", s/n}' $f.csv)
  echo "r$r m$m t$T s$S vmcache start $start run-mean $run steady-median $v dirty-after $(dirty)" | tee -a $OUT/summary.txt
}
ours() {
  local r=$1 m=$2 nb=$3
  local name=${nb%%=*} rest=${nb#*=}; local bin=${rest%%:*} envs=""
  [ "$bin" != "$rest" ] && envs=${rest#*:}
  rm -rf $DB.run; cp -r $DB $DB.run
  settle $m "r$r m$m $name"
  local start=$EPOCHREALTIME f=$OUT/$name-r$r-m$m-t$T
  env $envs $bin bench --workload tpcc --warehouses 4 --threads $T --seconds $S --pool-fraction 8 --btree-systems bufpool-btree \
    --tpcc-db $DB.run --tpcc-samples $f.samples.csv > >(stamp > $f.txt) 2>&1 & local pid=$!; echo $pid > $PIDF; wait $pid; : > $PIDF; sleep 0.2
  local med=$(grep -v '^#' $f.samples.csv | awk -F, 'NR>1 && $1>3.5 {print $2}' | sed '$d' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  local ck=$(grep -v '^#' $f.samples.csv | awk -F, 'NR>1 && $4>50 {n++; s+=$2} END {if (n) printf "%d %.0f", n, s/n; else printf "0 -"}')
  local other=$(grep -v '^#' $f.samples.csv | awk -F, 'NR>2 && $4<=50 {print $2}' | sed '$d' | sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}')
  echo "r$r m$m t$T s$S $name start $start $(grep -oE "threads=$T pool-fraction=8: [0-9]+ tx/s, consistent: [a-z]+" $f.txt) steady-median $med ckpt-seconds(n,mean) $ck other-median $other dirty-after $(dirty)" | tee -a $OUT/summary.txt
}
r=0
for m in $MODES; do
  r=$((r + 1))
  if [ $((r % 2)) = 1 ]; then vmc $r $m; for nb in "$@"; do ours $r $m $nb; done
  else for nb in "$@"; do ours $r $m $nb; done; vmc $r $m; fi
done
rm -rf $DB.run
sleep 1.5; kill $MON; rm -f $PIDF
