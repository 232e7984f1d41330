# Simulates NearHints (ours.rs) over New-Order's draws: hits of ITEM and STOCK keys for tables of several sizes and
# ways. usage: python3 near_hints_sim.py NEW_ORDERS  (prints: slots, ways, [ITEM hits, STOCK hits] over the last third)
import random, sys, bisect
random.seed(1)
W=4; ITEMS=100000
C=random.randint(0,8191)
def nurand():
    return ((random.randint(0,8191) | random.randint(1,ITEMS)) + C) % ITEMS + 1
# leaves: boundaries per table
def leaves(n, lo, hi):
    b=[]; x=0
    while x<n:
        b.append(x); x+=random.randint(lo,hi)
    return b
ib=leaves(ITEMS+1,25,45)
sb=[leaves(ITEMS+1,8,13) for _ in range(W)]
def leaf_of(t,w,i):
    if t==0: return (0,bisect.bisect_right(ib,i))
    return (1+w,bisect.bisect_right(sb[w],i))
def run(slots, ways, nos, near_bits=3):
    sets=slots//ways
    tab=[[] for _ in range(sets)]  # list of (key, leaf), MRU first
    hits=[0,0]; tot=[0,0]
    salt=random.getrandbits(64)
    for n in range(nos):
        w=random.randint(1,W)-1
        for _ in range(random.randint(5,15)):
            i=nurand()
            sw = w if random.random()>0.01 else random.randint(0,W-1)
            for t in (0,1):
                nb=(t, sw if t else 0, i>>near_bits)
                s=hash((nb,salt))%sets
                lf=leaf_of(t,sw,i)
                e=tab[s]; found=None
                for k,(key,l) in enumerate(e):
                    if key==nb: found=k; break
                meas = n>=nos*2//3
                if meas: tot[t]+=1
                if found is not None:
                    if e[found][1]==lf and meas: hits[t]+=1
                    e.pop(found)
                elif len(e)>=ways: e.pop()
                e.insert(0,(nb,lf))
    return [round(hits[t]/tot[t],3) for t in (0,1)]
nos=int(sys.argv[1])
for slots,ways in [(1<<16,1),(1<<16,2),(1<<16,4),(1<<17,1),(1<<17,2)]:
    print(slots,ways,run(slots,ways,nos),flush=True)
