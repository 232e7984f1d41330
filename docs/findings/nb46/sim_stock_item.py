import random, sys
def nurand(A,x,y,C): return (((random.randint(0,A)|random.randint(x,y))+C)%(y-x+1))+x
N=int(sys.argv[1]); per=float(sys.argv[2]); wh=int(sys.argv[3])
random.seed(1); C=random.randint(0,8191)
for bits in range(0,7):
    seen={}; hit=wrong=none=0
    random.seed(2)
    for n in range(N):
        w=random.randint(1,wh); i=nurand(8191,1,100000,C)
        nb=(w,i>>bits); L=(w,int((i-1)/per))
        h=seen.get(nb)
        if h is None: none+=1
        elif h==L: hit+=1
        else: wrong+=1
        seen[nb]=L
    print(bits, f"hit {hit/N:.3f} wrong {wrong/N:.3f} none {none/N:.3f} neighbourhoods {len(seen)}")
