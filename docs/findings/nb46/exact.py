import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../gap26"))
from per_type import per_type as read
def tot(p):
    a = read(p); return sum(v[0] for v in a.values()), sum(v[1] for v in a.values())
import re
def incl(p, fn):
    best=0
    for l in open(p):
        m = re.match(r'\s*([\d,]+) \([^)]*\)\s+\*\s+\S*?:(.*?)(?: \[.*\])?$', l)
        if m and m.group(2).endswith(fn): best=max(best,int(m.group(1).replace(',','')))
    return best
for p in sys.argv[1:]:
    if ':' in p:
        s,l = p.split(':'); (i1,n1),(i2,n2)=tot(s),tot(l)
        ll=incl(l,'tree::Tree::log_leaf')-incl(s,'tree::Tree::log_leaf')
        print(f"{l} - {s}: {(i2-i1)/(n2-n1):.1f} a tx, without log_leaf {(i2-i1-ll)/(n2-n1):.1f}")
    else:
        i,n=tot(p); ll=incl(p,'tree::Tree::log_leaf')
        print(f"{p}: {i/n:.1f} a tx, log_leaf {ll/n:.1f}, without {(i-ll)/n:.1f}")
