#!/usr/bin/env bash
P=/work/main/docs/findings/apply27/pairs.sh; DB=/work/pairs33/db; O=/work/pairs33/t2
A=/work/bin-main33s/bufpool; C=/work/tmp-cpu33/bin/head; M=/work/bin-main33/bufpool
/work/timed bash $P $DB $O 2 base=$A cpu=$C main=$M main=$M cpu=$C base=$A
/work/timed bash $P $DB $O 2 main=$M base=$A cpu=$C cpu=$C base=$A main=$M
