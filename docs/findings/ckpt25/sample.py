#!/usr/bin/env python3
"""Samples a running process every 0.25 s until it exits: CPU (utime+stime, clock ticks) of each of its threads,
the machine's CPU by kind (/proc/stat: user nice system idle iowait irq softirq steal), the process's write_bytes
(/proc/PID/io), /proc/vmstat's nr_dirty, nr_writeback and pgpgout, vda's writes, merged writes, sectors written and
flushes (/proc/diskstats), and the length of each file in DB. One line a sample: t, then key=value pairs.
Usage: sample.py PID OUT DB"""
import os, sys, time

pid, out, db = int(sys.argv[1]), sys.argv[2], sys.argv[3]
t0 = time.time()
with open(out, "w") as f:
    while True:
        try:
            tasks = {}
            for tid in os.listdir(f"/proc/{pid}/task"):
                try:
                    s = open(f"/proc/{pid}/task/{tid}/stat").read()
                except OSError:
                    continue
                comm = s[s.index("(") + 1:s.rindex(")")]
                rest = s[s.rindex(")") + 2:].split()
                tasks[tid] = (comm, int(rest[11]), int(rest[12]))  # utime, stime (fields 14, 15)
            io = dict(l.split(": ") for l in open(f"/proc/{pid}/io").read().splitlines())
        except OSError:
            break
        cpu = open("/proc/stat").readline().split()[1:9]
        disk = next(l.split() for l in open("/proc/diskstats") if l.split()[2] == "vda")
        vm = dict(l.split() for l in open("/proc/vmstat"))
        parts = [f"{time.time() - t0:.3f}"]
        parts += [f"T{tid}:{c.replace(' ', '_')}={u},{k}" for tid, (c, u, k) in sorted(tasks.items(), key=lambda x: int(x[0]))]
        parts.append("stat=" + ",".join(cpu))
        parts.append(f"wb={io['write_bytes']}")
        parts.append(f"disk={disk[7]},{disk[8]},{disk[9]},{disk[18]}")  # writes completed, merged, sectors written, flushes
        parts.append(f"vm={vm['nr_dirty']},{vm['nr_writeback']},{vm['pgpgout']}")
        for name in sorted(os.listdir(db)):
            if not name.endswith(".db"):
                try:
                    parts.append(f"F{name}={os.stat(os.path.join(db, name)).st_size}")
                except OSError:
                    pass
        f.write(" ".join(parts) + "\n")
        f.flush()
        time.sleep(0.25)
