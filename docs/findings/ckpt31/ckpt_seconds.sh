#!/usr/bin/env bash
# Session 31 (ckpt31): for each run's per-second samples in OUT (NAME-tT-HH:MM:SS.samples.csv, as the pairs scripts
# write them), in time order: the whole run's tx/s (from its .txt), its checkpoint seconds (more than 50 syncs a
# second, as lead30's images.sh counted them: the count and their mean tx/s) and the median of its other seconds
# from the second one on (its last, partial line left out).
# usage: ckpt_seconds.sh OUT
for smp in $(ls "$1"/*.samples.csv | sort -t- -k3); do
  f=${smp%.samples.csv}; run=$(basename $f)
  ck=$(grep -v '^#' $smp | awk -F, 'NR>1 && $4>50 {n++; s+=$2} END {if (n) printf "%d, %.1f K", n, s/n/1000; else printf "0, -"}')
  other=$(grep -v '^#' $smp | awk -F, 'NR>2 && $4<=50 {print $2}' | sed '$d' | sort -n | awk '{a[NR]=$1} END {if (NR) printf "%.1f K", a[int((NR+1)/2)]/1000}')
  echo "$run $(grep -oE 'pool-fraction=8: [0-9]+ tx/s' $f.txt | grep -oE '[0-9]+ tx/s') ckpt-seconds $ck other-median $other"
done
