#!/bin/bash
# Bytes written a transaction to each log over a 12 s TPC-C run (4 warehouses in memory, T threads), the open
# excluded: strace attached to the run once it printed "reused in", to its exit (the close's checkpoint included).
# usage (under /work/heavy): strace_bytes.sh BIN DB COPY T
BIN=$1; DB=$2; COPY=$3; T=$4
rm -rf $COPY; cp -r $DB $COPY
$BIN bench --workload tpcc --warehouses 4 --threads $T --seconds 12 --pool-fraction 8 --btree-systems bufpool-btree \
  --tpcc-db $COPY > $COPY.txt 2>&1 &
pid=$!
until grep -qE "loaded in|reused in" $COPY.txt 2>/dev/null; do sleep 0.02; done
strace -f -p $pid -y -e trace=pwrite64,write,pwritev,fdatasync,fsync -e signal=none -o $COPY.strace 2>/dev/null &
wait $pid
sleep 1
tx=$(grep -oE 'threads=[12] pool-fraction=8: [0-9]+ tx/s' $COPY.txt | grep -oE '[0-9]+ tx/s' | grep -oE '[0-9]+')
python3 - $COPY.strace $tx <<'PY'
import re, sys, collections
b = collections.Counter(); n = collections.Counter(); syncs = collections.Counter()
for l in open(sys.argv[1]):
    m = re.search(r'(pwrite64|write|pwritev)\((\d+)<([^>]+)>.*= (\d+)$', l)
    if m:
        f = m.group(3).split('/')[-1]; b[f] += int(m.group(4)); n[f] += 1
    m = re.search(r'(fdatasync|fsync)\((\d+)<([^>]+)>', l)
    if m:
        syncs[m.group(3).split('/')[-1]] += 1
tx = int(sys.argv[2]) * 12
print(f"{tx} transactions (tx/s x 12)")
print("| file | MB | B/tx | writes | syncs |\n|---|---:|---:|---:|---:|")
for f, v in b.most_common():
    if f.endswith(('.log', '.wal')):
        print(f"| {f} | {v / 1e6:.1f} | {v / tx:.0f} | {n[f]} | {syncs[f]} |")
logs = sum(v for f, v in b.items() if f.endswith(('.log', '.wal')))
print(f"| all logs | {logs / 1e6:.1f} | {logs / tx:.0f} | | |")
PY
