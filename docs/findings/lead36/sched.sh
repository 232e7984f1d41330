#!/usr/bin/env bash
# Session 36 (lead): where a 2-thread TPC-C run's threads spend a 10 s window: on a CPU, runnable but waiting for
# one (run queue), or asleep (blocked: a lock park, I/O, a condvar), from /proc/PID/task/*/schedstat (run ns, wait
# ns, timeslices) read at 12 s and 22 s into a 30 s run. Run under /work/timed.
# usage: sched.sh BIN DB OUT [THREADS]
set -u
BIN=$1; DB=$2; OUT=$3; T=${4:-2}
mkdir -p $OUT
rm -rf $DB.run; cp -r $DB $DB.run; sync
$BIN bench --workload tpcc --warehouses 4 --threads $T --seconds 30 --pool-fraction 8 --btree-systems bufpool-btree \
  --tpcc-db $DB.run > $OUT/run-t$T.txt 2>&1 &
pid=$!
snap() { for t in /proc/$pid/task/*; do echo "$(basename $t) $(cat $t/comm | tr ' ' _) $(cat $t/schedstat)"; done; }
sleep 12; snap > $OUT/s1-t$T.txt; cat /proc/stat | head -1 > $OUT/stat1-t$T.txt
sleep 10; snap > $OUT/s2-t$T.txt; cat /proc/stat | head -1 > $OUT/stat2-t$T.txt
wait $pid
rm -rf $DB.run
python3 - $OUT $T <<'PY'
import sys
out, t = sys.argv[1], sys.argv[2]
def rd(f):
    d = {}
    for l in open(f):
        tid, comm, run, wait, n = l.split()
        d[tid] = (comm, int(run), int(wait), int(n))
    return d
a, b = rd(f'{out}/s1-t{t}.txt'), rd(f'{out}/s2-t{t}.txt')
c1 = list(map(int, open(f'{out}/stat1-t{t}.txt').read().split()[1:]))
c2 = list(map(int, open(f'{out}/stat2-t{t}.txt').read().split()[1:]))
d = [y - x for x, y in zip(c1, c2)]
tot = sum(d)
names = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal']
print('machine over the window (share of 2 CPUs):', ', '.join(f'{n} {100*v/tot:.1f}%' for n, v in zip(names, d)))
print(f"{'tid':>8} {'thread':<18} {'on CPU':>8} {'runnable':>9} {'asleep':>8} {'switches':>9}  (s of the 10 s window)")
rows = []
for tid, (comm, r1, w1, n1) in a.items():
    if tid not in b: continue
    _, r2, w2, n2 = b[tid]
    run, wait = (r2 - r1) / 1e9, (w2 - w1) / 1e9
    rows.append((run, tid, comm, wait, 10 - run - wait, n2 - n1))
for run, tid, comm, wait, sleep, n in sorted(rows, reverse=True):
    if run + wait < 0.001: continue
    print(f"{tid:>8} {comm:<18} {run:8.3f} {wait:9.3f} {sleep:8.3f} {n:9d}")
PY
grep -oE "threads=$T pool-fraction=8: [0-9]+ tx/s.*lock: [0-9.]+%" $OUT/run-t$T.txt
