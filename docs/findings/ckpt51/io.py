#!/usr/bin/env python3
"""Session 51 (ckpt51): io.sh's events by thread: io_uring_enter calls, io_uring requests submitted, punted to io-wq, and the direct
writes' lengths (iomap_dio_rw_begin with NOWAIT: the submitter's inline try; without: a blocking one, io-wq's
or a pwrite's), with the pages a write.

usage: io.py IO.txt
"""
import collections
import re
import sys

sub = collections.Counter()
enters = collections.Counter()
punt = collections.Counter()
dio = collections.defaultdict(list)
secs = collections.defaultdict(collections.Counter)
t0 = None
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) < 3:
        continue
    tid, t = p[0], float(p[1].rstrip(':'))
    t0 = t if t0 is None else t0
    if 'sys_enter_io_uring_enter' in line:
        enters[tid] += 1
    elif 'io_uring_submit_req' in line:
        op = re.search(r'opcode (\S+),', line).group(1)
        sub[(tid, op)] += 1
    elif 'io_uring_queue_async_work' in line:
        op = re.search(r'opcode (\S+),', line)
        punt[(tid, op.group(1) if op else '?')] += 1
    elif 'iomap_dio_rw_begin' in line and re.search(r'flags \S*WRITE', line):
        n = int(re.search(r'length (0x[0-9a-f]+)', line).group(1), 16)
        nowait = 'NOWAIT' in line
        dio[(tid, nowait)].append(n)
        secs[int(t - t0)][tid] += 1
print("io_uring_enter calls by thread:", dict(enters.most_common(4)))
print("io_uring submissions by thread and opcode:")
for k, v in sorted(sub.items(), key=lambda kv: -kv[1]):
    print(f"  {k[0]} {k[1]}: {v}")
print("punted to io-wq (io_uring_queue_async_work) by submitting thread and opcode:")
for k, v in sorted(punt.items(), key=lambda kv: -kv[1]):
    print(f"  {k[0]} {k[1]}: {v}")
print("direct writes begun (tid, NOWAIT): count, pages, pages a write, histogram of pages a write")
for (tid, nw), ls in sorted(dio.items(), key=lambda kv: -len(kv[1])):
    pages = [n // 4096 for n in ls]
    h = collections.Counter('1' if x == 1 else '2-8' if x <= 8 else '9-31' if x < 32 else '32' if x == 32 else '>32' for x in pages)
    print(f"  {tid} nowait={nw}: {len(ls)} writes, {sum(pages)} pages, {sum(pages)/len(ls):.1f} a write, {dict(h)}")
