import sys,re
# sums calls= and inclusive cost of calls to functions matching a pattern (by callgrind's compressed names)
f,pat=sys.argv[1],sys.argv[2]
names={}; calls=0; incl=0; want=False
for line in open(f):
    m=re.match(r'c?fn=\((\d+)\)(?: (.*))?',line)
    if m:
        i,n=m.group(1),m.group(2)
        if n: names[i]=n
        if line.startswith('cfn='): want=re.search(pat,names.get(i,''))  is not None
        continue
    if line.startswith('calls=') and want:
        calls+=int(line.split()[0][6:]); nxt=True; continue
    if want and 'nxt' in dir() and nxt:
        parts=line.split(); incl+=int(parts[1]); nxt=False; want=False
print(f, pat, 'calls',calls,'incl',incl, 'per', incl/max(calls,1))
