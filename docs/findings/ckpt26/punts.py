#!/usr/bin/env python3
"""Counts punt.sh's events by thread (io_uring workers summed as iou-wrk, our own threads by tid): submissions and
punts by opcode, iomap_dio_rw_begin by flags (NOWAIT: the submitting thread's inline attempt reached iomap, so a
punt after it was refused inside iomap; a punt without it was refused before, in ext4's checks), ext4 inode
updates, page-cache deletions. Usage: perf script -i TAG.perf -F comm,tid,event,trace | punts.py /dev/stdin
Then the io_uring workers' inode updates by cause: workers.sh TAG.perf"""
import sys, re, collections

c = collections.Counter()
for line in open(sys.argv[1]):
    m = re.match(r"\s*(\S+)\s+(\d+)\s+(\S+):\s(.*)", line)
    if not m:
        continue
    comm, tid, ev, tr = m.groups()
    who = "iou-wrk" if comm.startswith("iou-wrk") else "bufpool-io" if comm.startswith("bufpool-io") else "tid" + tid
    if ev.endswith("submit_req") or ev.endswith("queue_async_work"):
        c[(who, ev.split(":")[1], re.search(r"opcode (\S+),", tr).group(1))] += 1
    elif ev.endswith("iomap_dio_rw_begin"):
        c[(who, "dio_begin", re.search(r"flags (\S+) dio", tr).group(1))] += 1
    else:
        c[(who, ev.split(":")[1], "")] += 1
for k, v in sorted(c.items()):
    print(v, *k)
