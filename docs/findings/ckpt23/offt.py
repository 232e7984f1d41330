import sys, re, collections
f, t0, t1 = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
workers = set(int(x) for x in sys.argv[4].split(','))
ws, we = float(sys.argv[5]), float(sys.argv[6])  # the whole measured span (for 'outside')
depth = int(sys.argv[7]) if len(sys.argv) > 7 else 3
skip = re.compile(r'^(std::|core::|parking_lot|alloc::|__|syscall|futex|_raw|schedule|\[unknown\]|entry_|do_|x64_|<std|<core|<alloc|<parking|lock_api|pthread|__lll|clock_nanosleep|nanosleep|sched_|crossbeam|<parking_lot)')
outev=[]; inev=collections.defaultdict(list); cur=None
for l in open(f, errors='replace'):
    if not l.strip():
        if cur: outev.append(cur)
        cur=None; continue
    if l[0] not in ' \t':
        if cur: outev.append(cur)
        cur=None
        m = re.match(r'(\S+) (\d+)\s+([0-9.]+):.*prev_state=(\S+).*next_pid=(\d+)', l)
        if not m: continue
        ts=float(m.group(3)); nxt=int(m.group(5))
        if nxt in workers: inev[nxt].append(ts)
        if int(m.group(2)) in workers: cur=[int(m.group(2)), ts, m.group(4), []]
        continue
    if cur is not None:
        m = re.match(r'\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$', l)
        if m: cur[3].append((m.group(1), m.group(2)))
if cur: outev.append(cur)
import bisect
for k in inev: inev[k].sort()
def label(st):
    kern=[]; out=[]
    for s,d in st:
        if 'kernel' in d: kern.append(s); continue
        s2 = re.sub(r'::h[0-9a-f]{16}$','',s)
        if skip.match(s2): continue
        out.append(s2[:60])
        if len(out)>=depth: break
    return ' < '.join(out)
ins, outs = collections.Counter(), collections.Counter()
for tid,t,state,st in outev:
    i=bisect.bisect_right(inev[tid], t)
    if i>=len(inev[tid]): continue
    d=inev[tid][i]-t
    lab=(state, label(st))
    if t0<=t<t1: ins[lab]+=d
    elif ws<=t<we: outs[lab]+=d
for name,c,span in (('inside',ins,t1-t0),('outside',outs,(we-ws)-(t1-t0))):
    tot=sum(c.values()); print(f'--- {name}: span {span:.1f}s, off-cpu {tot:.2f} s for {len(workers)} workers = {tot/span/len(workers)*100:.1f}% of each')
    for k,v in c.most_common(60): print(f'{v:7.3f}s {v/span/len(workers)*100:5.1f}% {k}')
