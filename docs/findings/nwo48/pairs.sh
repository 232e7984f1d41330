#!/bin/bash
# nwo48: main (1dcfbb5) beside two builds of the branch, l4 (the link followed, LeafHint::linked, a neighbourhood's
# note kept at its first leaf in transactions that write) and l5 (the link followed alone), 60 s runs at 4 warehouses
# in memory, nondurable-autocommit; one /work/timed call at 1 thread and one at 2, two rounds each, the order turned
# in the second (speed36/steady.sh's runs, VMC=0). Pairs: speed37/pair_ratios.py main l5 OUT/r* (and main l4).
F=/work/wt/nwo48/docs/findings; B=/work/tmp-nwo48/bin; O=/work/tmp-nwo48/pairs
for T in 1 2; do
  /work/timed bash -c "T=$T MODES=0 VMC=0 $F/speed36/steady.sh /work/tmp-lead44/db $O/t$T/r1 60 main=$B/main l4=$B/l4 l5=$B/l5 &&
    T=$T MODES=0 VMC=0 $F/speed36/steady.sh /work/tmp-lead44/db $O/t$T/r2 60 l5=$B/l5 l4=$B/l4 main=$B/main"
done
