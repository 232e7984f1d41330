#!/usr/bin/env python3
"""Per-second table of a run.sh run: CPU % of each thread (threads that used under 0.5% of a CPU left out,
io_uring workers summed as `iou`), the machine's kernel (system+irq+softirq), iowait, steal and idle % (of one CPU,
both CPUs summed), the process's MB written, the disk's writes a second, their mean KiB, its flushes a second,
the logs' growth (MB, by file) and the run's tx/s from its samples.
Usage: attr.py TAG [DIR]"""
import sys, os, collections

tag = sys.argv[1]
d = sys.argv[2] if len(sys.argv) > 2 else "/work/tmp-ckpt25/runs"
rows = []
for line in open(os.path.join(d, tag + ".proc")):
    parts = line.split()
    t = float(parts[0])
    th, files, stat, wb, disk = {}, {}, None, 0, [0, 0, 0, 0]
    for p in parts[1:]:
        k, v = p.split("=", 1)
        if k.startswith("T"):
            tid, comm = k[1:].split(":", 1)
            u, s = map(int, v.split(","))
            name = "iou" if comm.startswith("iou-") else tid
            th[name] = th.get(name, 0) + u + s
        elif k.startswith("F"):
            files[k[1:]] = int(v)
        elif k == "stat":
            stat = list(map(int, v.split(",")))
        elif k == "disk":
            disk = list(map(int, v.split(",")))
        elif k == "wb":
            wb = int(v)
    own = sum(1 for k in parts[1:] if k.startswith("T") and ":iou-" not in k)
    rows.append((t, th, files, stat, wb, disk, own))

# The run starts when its threads do (the workers and the slow tick's thread together): times from there.
most = max(r[6] for r in rows)
t_run = next(r[0] for r in rows if r[6] == most)
rows = [(r[0] - t_run,) + r[1:] for r in rows]
# one row a second
secs = []
i = 0
for s in range(int(rows[0][0]) + 1, int(rows[-1][0]) + 1):
    j = max(k for k, r in enumerate(rows) if r[0] <= s)
    secs.append((rows[i], rows[j]))
    i = j
names = collections.OrderedDict()
for a, b in secs:
    for n in b[1]:
        dt = (b[1][n] - a[1].get(n, b[1][n])) / max(b[0] - a[0], 1e-9)
        names[n] = max(names.get(n, 0), dt)
cols = [n for n, m in names.items() if m >= 0.5]
logs = sorted({f for _, b in secs for f in b[2] if f.endswith((".wal", ".log"))})
tx = {}
sp = os.path.join(d, tag + ".samples")
if os.path.exists(sp):
    for line in open(sp):
        f = line.strip().split(",")
        if line.startswith(("#", "seconds")):
            continue
        tx[int(float(f[0]) + 0.5)] = float(f[1])
print("t  " + " ".join(f"{c:>7}" for c in cols) + "   kern iowait steal  idle  MBwr  dkwr/s KiB/wr fl/s " + " ".join(f"{l.split('.')[0][:8]:>8}" for l in logs) + "  tx/s")
for a, b in secs:
    dt = max(b[0] - a[0], 1e-9)
    cpu = [(b[1].get(c, 0) - a[1].get(c, 0)) / dt for c in cols]
    st = [(y - x) / dt for x, y in zip(a[3], b[3])]
    kern = st[2] + st[5] + st[6]
    dw = b[5][0] - a[5][0]
    lg = [(b[2].get(l, 0) - a[2].get(l, 0)) / 1e6 / dt for l in logs]
    print(f"{b[0]:4.1f} " + " ".join(f"{max(c, 0):7.0f}" for c in cpu) +
          f"  {kern:5.0f} {st[4]:5.0f} {st[7]:5.0f} {st[3]:5.0f} {(b[4]-a[4])/1e6/dt:5.0f} " +
          f"{dw/dt:7.0f} {(b[5][2]-a[5][2])/2/max(dw,1):6.0f} {(b[5][3]-a[5][3])/dt:4.0f} " +
          " ".join(f"{x:8.1f}" for x in lg) + f"  {tx.get(round(b[0]), 0):.0f}")
