#!/bin/bash
cd /work/main; D=/work/tmp-lead34/db; P=docs/findings/logb32/pairs.sh; O=/work/tmp-lead34/pairs
A=A=/work/bin-main34/bufpool; G=D=/work/tmp-lead34/bin/nogrow; N=N=/work/tmp-lead34/bin/nogrow-build
/work/timed timeout 170 $P $D $O 2 12 $A $G $G $A
/work/timed timeout 170 $P $D $O 2 12 $G $A $A $G
/work/timed timeout 170 $P $D $O 2 12 $A $G $G $A
/work/timed timeout 170 $P $D $O 2 12 $G $A $A $G
/work/timed timeout 170 $P $D $O 2 12 $A $N $N $A
echo PAIRS_DONE
