import random, sys
def nurand(A,x,y,C): return (((random.randint(0,A)|random.randint(x,y))+C)%(y-x+1))+x
random.seed(1)
C=random.randint(0,1023)
N=int(sys.argv[1]); per=float(sys.argv[2])
# leaf boundaries: customers 1..3000 in leaves of ~per rows
def leaf(c): return int((c-1)/per)
for bits in range(0,6):
    seen={}; hit=miss_wrong=miss_none=0
    random.seed(2)
    for n in range(N):
        w=random.randint(1,4); d=random.randint(1,10); c=nurand(1023,1,3000,C)
        nb=(w,d,c>>bits)  # low bits of last byte: c BE, last byte low bits == c low bits
        L=(w,d,leaf(c))
        h=seen.get(nb)
        if h is None: miss_none+=1
        elif h==L: hit+=1
        else: miss_wrong+=1
        seen[nb]=L
    print(bits, f"hit {hit/N:.3f} wrong {miss_wrong/N:.3f} none {miss_none/N:.3f}")
