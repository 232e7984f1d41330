#!/usr/bin/env python3
# perf29: off-CPU time of each thread by why it left its CPU, from a prof.sh switchd run (sched:sched_switch with
# DWARF call graphs): each switch-out is paired with the thread's next switch-in; the interval is charged to the
# switch-out's state (S sleep, D uninterruptible, R preempted or yielded) and its first project frame (or the
# first non-scheduler kernel frame). usage: offcpu.py DIR TAG [TOP]
import sys, re, collections, subprocess
d, tag = sys.argv[1], sys.argv[2]; top = int(sys.argv[3]) if len(sys.argv) > 3 else 20
out = subprocess.run(['perf', 'script', '-i', f'{d}/{tag}.data', '-F', 'tid,time,trace,ip,sym'], capture_output=True, text=True).stdout
SKIP = re.compile(r'schedule|finish_task|entry_SYSCALL|do_syscall|syscall_exit|x64_sys|futex|^syscall$|unknown|'
                  r'__GI___|pthread_|std::sys::|std::thread|core::|lock_contended|RwLock|Mutex|wait_on|__lll|do_sched_yield')
pending = {}; charged = collections.Counter(); total = collections.Counter()
for ev in out.split('\n\n'):
    lines = ev.strip().split('\n')
    if not lines or 'prev_pid=' not in lines[0]: continue
    h = lines[0]
    t = float(re.search(r'\s(\d+\.\d+):', h).group(1))
    prev = re.search(r'prev_pid=(\d+)', h).group(1); st = re.search(r'prev_state=(\S+)', h).group(1)[0]
    nxt = re.search(r'next_pid=(\d+)', h).group(1)
    frames = [l.split(None, 1)[1] if len(l.split(None, 1)) > 1 else '' for l in lines[1:]]
    frames = [re.sub(r'::h[0-9a-f]{16}', '', re.sub(r'\+0x[0-9a-f]+', '', f)).replace(' (', '  (').split('  (')[0].strip() for f in frames]
    why = next((f for f in frames if f and not SKIP.search(f)), frames[-1] if frames else '?')
    pending[prev] = (t, st, why[:90])
    if nxt in pending:
        t0, s0, w0 = pending.pop(nxt)
        charged[(nxt, s0, w0)] += t - t0; total[nxt] += t - t0
for tid, s in total.most_common():
    print(f'tid {tid}: off-CPU {s*1e3:8.1f} ms')
print('by thread, state, first frame (ms):')
for (tid, st, w), s in charged.most_common(top):
    print(f'  {s*1e3:8.1f}  {tid} {st} {w}')
