#!/usr/bin/env bash
P=/work/main/docs/findings/apply27/pairs.sh; DB=/work/pairs33/db; O=/work/pairs33/t2b
C=/work/tmp-cpu33/bin/head; M=/work/bin-main33/bufpool
/work/timed bash $P $DB $O 2 cpu=$C main=$M main=$M cpu=$C cpu=$C main=$M
/work/timed bash $P $DB $O 2 main=$M cpu=$C cpu=$C main=$M main=$M cpu=$C
