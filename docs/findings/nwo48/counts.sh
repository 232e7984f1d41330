#!/bin/bash
# nwo48: counts.txt from count.sh's files (/work/tmp-nwo48/cg): totals (nb46/exact.py), per type
# (perf45/per_type_diff.py), parts (perf47/incl_diff.py) and self instructions by function (selfcmp.py), all over
# transactions 50,001-150,000.
F=/work/wt/nwo48/docs/findings; C=/work/tmp-nwo48/cg; B="main l1 l2 l3 l4 l5"
echo "## exact.py (50,001-150,000)"
for b in $B; do python3 $F/nb46/exact.py $C/${b}50k.annot:$C/${b}150k.annot; done
echo "## per_type_diff.py"
for b in $B; do echo "# $b"; python3 $F/perf45/per_type_diff.py $C/${b}50k.annot $C/${b}150k.annot; done
echo "## incl_diff.py"
for b in $B; do python3 $F/perf47/incl_diff.py $C/${b}50k.annot:$C/${b}150k.annot; done
echo "## selfcmp.py $B (self instructions a transaction by function: main's, then each build's minus main's)"
python3 $F/nwo48/selfcmp.py $B
