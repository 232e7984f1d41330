#!/bin/bash
# io46: ckpt45's an.py and threads.py on the count runs (under /work/heavy)
D=/work/wt/io46/docs/findings/ckpt45
for b in main io46; do for T in 2 1; do
  O=/work/tmp-io46/m/$b
  [ -e $O/sys-t$T.data ] || continue
  [ -s $O/an-sys-t$T.txt ] || python3 $D/an.py $O $T > $O/an-sys-t$T.txt 2>&1
  [ -s $O/threads-t$T.txt ] || python3 $D/threads.py $O $T > $O/threads-t$T.txt 2>&1
done; done
