import re, sys
# per-call inclusive cost of functions from callgrind_annotate --tree=caller output
f = sys.argv[1]
blocks = open(f).read().split('\n\n')
for name in sys.argv[2:]:
    for b in blocks:
        ls = b.strip('\n').split('\n')
        star = [l for l in ls if '*  ' in l and name in l]
        if not star: continue
        incl = int(star[0].split()[0].replace(',', ''))
        calls = sum(int(m.group(1).replace(',', '')) for l in ls if '<' in l for m in [re.search(r'\(([\d,]+)x\)', l)] if m)
        print(f"{name}: {calls} calls, {incl} Ir, {incl/max(calls,1):.0f} a call")
        break
