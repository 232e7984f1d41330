#!/bin/bash
# perf49: counts.txt from count.sh's files (/work/tmp-perf49/cg): totals (nb46/exact.py), per type
# (perf45/per_type_diff.py), parts (perf47/incl_diff.py) and self instructions by function (selfcmp.py), all over
# transactions 50,001-150,000. usage: counts.sh BUILD... (the first is the base of selfcmp.py's differences)
F=$(cd "$(dirname "$0")/.." && pwd); C=${D:-/work/tmp-perf49}/cg; B="$*"
echo "## exact.py (50,001-150,000)"
for b in $B; do python3 $F/nb46/exact.py $C/${b}50k.annot:$C/${b}150k.annot; done
echo "## per_type_diff.py"
for b in $B; do echo "# $b"; python3 $F/perf45/per_type_diff.py $C/${b}50k.annot $C/${b}150k.annot; done
echo "## incl_diff.py"
for b in $B; do python3 $F/perf47/incl_diff.py $C/${b}50k.annot:$C/${b}150k.annot; done
echo "## selfcmp.py $B (self instructions a transaction by function: the first's, then each build's minus it)"
CG=$C python3 $F/perf49/selfcmp.py $B
