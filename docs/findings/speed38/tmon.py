#!/usr/bin/env python3
"""Session 38 (speed38): each thread of a process, each second: CPU (utime+stime jiffies), time on a CPU and
runnable-waiting (/proc/PID/task/TID/schedstat, ns), voluntary and involuntary context switches (status); and
the machine's /proc/stat (user, system, iowait, steal, idle jiffies). One CSV line a thread a second:
epoch,tid,comm,cpu_j,run_ns,wait_ns,vol,invol,m_user,m_sys,m_iowait,m_steal,m_idle (deltas over the second).
usage: tmon.py PID OUT.csv   (ends when the process does)"""
import os, sys, time

pid, out = sys.argv[1], sys.argv[2]


def machine():
    v = [int(x) for x in open('/proc/stat').readline().split()[1:]]
    return (v[0] + v[1], v[2] + v[5] + v[6], v[4], v[7], v[3])


def snap():
    d = {}
    for tid in os.listdir(f'/proc/{pid}/task'):
        try:
            st = open(f'/proc/{pid}/task/{tid}/stat').read()
            comm = st[st.index('(') + 1:st.rindex(')')].replace(',', ' ')
            f = st[st.rindex(')') + 2:].split()
            run, wait, _ = (int(x) for x in open(f'/proc/{pid}/task/{tid}/schedstat').read().split())
            vol = invol = 0
            for l in open(f'/proc/{pid}/task/{tid}/status'):
                if l.startswith('voluntary_ctxt_switches'):
                    vol = int(l.split()[1])
                elif l.startswith('nonvoluntary_ctxt_switches'):
                    invol = int(l.split()[1])
            d[tid] = (comm, int(f[11]) + int(f[12]), run, wait, vol, invol)
        except (FileNotFoundError, ProcessLookupError, ValueError):
            pass
    return d


with open(out, 'w') as o:
    o.write('epoch,tid,comm,cpu_j,run_ns,wait_ns,vol,invol,m_user,m_sys,m_iowait,m_steal,m_idle\n')
    prev, mprev = snap(), machine()
    while os.path.exists(f'/proc/{pid}'):
        time.sleep(1)
        try:
            cur, m = snap(), machine()
        except FileNotFoundError:
            break
        md = [a - b for a, b in zip(m, mprev)]
        now = time.time()
        for tid, c in cur.items():
            p = prev.get(tid, (c[0], 0, 0, 0, 0, 0))
            dd = [a - b for a, b in zip(c[1:], p[1:])]
            o.write(f'{now:.1f},{tid},{c[0]},' + ','.join(map(str, dd)) + ',' + ','.join(map(str, md)) + '\n')
        o.flush()
        prev, mprev = cur, m
