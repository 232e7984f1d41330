#!/usr/bin/env python3
"""Groups a `PERF=1 run.sh` profile's samples by their leaf symbol, for each thread asked, over the run's seconds
(from the first to the last sample of the workers): the groups of BENCHMARKS.md's session 25 checkpoint table.
Usage: leaf.py PERF_DATA WORKER_TIDS THREAD_TIDS...   (tids comma-separated; `perf report --sort pid` lists them)"""
import collections, re, subprocess, sys

data, workers, threads = sys.argv[1], sys.argv[2].split(","), sys.argv[3:]
script = subprocess.run(["perf", "script", "-i", data, "-F", "tid,time,ip,sym"], capture_output=True, text=True).stdout
rows, head = [], None
for line in script.splitlines():
    m = re.match(r"\s*(\d+)\s+([\d.]+):\s*$", line)
    if m:
        head = (m.group(1), float(m.group(2)))
        continue
    if head and line.strip():
        rows.append((head[0], head[1], line.split()[1] if len(line.split()) > 1 else "?"))
        head = None
t0 = min(t for tid, t, _ in rows if tid in workers)
t1 = max(t for tid, t, _ in rows if tid in workers)
BUFFERED = ("copy_folio_from_iter", "generic_perform_write", "ext4_da_", "block_commit_write", "ext4_buffered_write_iter")

def group(s):
    if s.startswith("iowrite16") or "virtqueue" in s:
        return "virtio notify (a VM exit a request)"
    if s.startswith(("finish_task_switch", "schedule", "__schedule", "_raw_spin_unlock_irqrestore", "handle_softirqs")):
        return "switched back in / interrupts re-enabled"
    if "memmove" in s or "memcpy" in s:
        return "memmove/memcpy"
    if "crc32c" in s:
        return "crc32c"
    if s.startswith(BUFFERED):
        return "buffered writes (page-cache copy)"
    if s.startswith(("mpage_", "ext4_bio", "block_invalidate", "invalidate_inode", "folio", "filemap", "xas_", "__folio", "kiocb_invalidate")):
        return "page cache: writeback, invalidation"
    if s.startswith(("io_", "__io_", "io_uring")):
        return "io_uring"
    if "BufferPool::stats" in s:
        return "BufferPool::stats (the samples)"
    if s.startswith(("bufpool", "<bufpool", "core::", "<alloc", "<io_uring", "cfree", "_int_free", "malloc")):
        return "own code"
    return "other kernel, libc"

for spec in threads:
    tids = spec.split(",")
    c = collections.Counter(group(s) for tid, t, s in rows if tid in tids and t0 <= t <= t1)
    n = sum(c.values()) or 1
    print(f"== {spec}: {n} samples ({n / 1999:.2f} CPU-s at 1999 Hz)")
    for k, v in c.most_common():
        print(f"  {100 * v / n:5.1f}% {k}")
