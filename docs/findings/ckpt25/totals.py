#!/usr/bin/env python3
"""Whole-run totals of run.sh runs: CPU seconds of each thread (the slow tick's thread, which runs the
checkpoints, is the last thread the run starts) from the run's start to its end (the samples of the open
before it and the close after it left out), MB the process wrote, MB the logs grew (the tree logs are almost
all first-touch images; txn.log is the transaction log), data-page MB (the rest), and committed transactions.
Usage: totals.py TAG... [--dir DIR]"""
import sys, os

args = sys.argv[1:]
d = "/work/tmp-ckpt25/runs"
if "--dir" in args:
    d = args[args.index("--dir") + 1]
    args = args[: args.index("--dir")]
print(f"{'run':24s} {'tx':>8s} {'wk CPU-s':>8s} {'ckpt CPU-s':>10s} {'main':>5s} {'iou':>5s} {'MB wr':>6s} {'txlog':>6s} {'images':>6s} {'data':>6s}")
for tag in args:
    rows = []
    for line in open(os.path.join(d, tag + ".proc")):
        parts = line.split()
        th, files, wb, stat = {}, {}, 0, None
        for p in parts[1:]:
            k, v = p.split("=", 1)
            if k.startswith("T"):
                tid, comm = k[1:].split(":", 1)
                th[(int(tid), comm.startswith("iou-"))] = sum(map(int, v.split(",")))
            elif k.startswith("F") and k.endswith((".wal", ".log")):
                files[k[1:]] = int(v)
            elif k == "wb":
                wb = int(v)
            elif k == "stat":
                stat = list(map(int, v.split(",")))
        rows.append((th, files, wb, stat))
    most = max(sum(1 for (t, iou) in r[0] if not iou) for r in rows)
    i0 = next(i for i, r in enumerate(rows) if sum(1 for (t, iou) in r[0] if not iou) == most)
    i1 = max(i for i, r in enumerate(rows) if sum(1 for (t, iou) in r[0] if not iou) == most)
    rows = rows[: i1 + 1]  # up to the run's end (the close's checkpoint after it left out)
    a, b = rows[i0], rows[-1]
    # main (the driver and fast tick) is the process's first thread; the workers and then the slow tick's thread
    # are the threads the run starts (the slow one last: the highest of them, ids not having wrapped between).
    main = min(t for (t, iou) in rows[0][0] if not iou)
    before = rows[i0 - 1][0] if i0 > 0 else {}
    slow = max(t for (t, iou) in a[0] if not iou and (t, iou) not in before)
    last = {}
    for r in rows[i0:]:
        for k, v in r[0].items():
            last[k] = v
    cpu = {k: (last[k] - a[0].get(k, 0)) / 100 for k in last}
    ws = sum(v for (t, iou), v in cpu.items() if not iou and t not in (main, slow) and v > 1)
    iou = sum(v for (t, iou), v in cpu.items() if iou)
    g = lambda n: (b[1].get(n, 0) - a[1].get(n, 0)) / 1e6
    txlog = g("txn.log")
    trees = sum(g(n) for n in b[1] if n != "txn.log")
    wb = (b[2] - a[2]) / 1e6
    tx = 0
    sp = os.path.join(d, tag + ".samples")
    prev = 0.0
    for line in open(sp):
        if line.startswith(("#", "seconds")):
            continue
        f = line.split(",")
        tx += float(f[1]) * (float(f[0]) - prev)
        prev = float(f[0])
    print(f"{tag:24s} {tx:8.0f} {ws:8.2f} {cpu.get((slow, False), 0):10.2f} {cpu.get((main, False), 0):5.2f} {iou:5.2f} {wb:6.0f} {txlog:6.0f} {trees:6.0f} {wb - txlog - trees:6.0f}")
