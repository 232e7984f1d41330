#!/bin/bash
# io46: ckpt45/meas.sh on main and on io46 (uring-reads), 2 threads then 1, alternated
M=/work/wt/io46/docs/findings/ckpt45/meas.sh; DB=/work/tmp-lead44/db; O=/work/tmp-io46/m
$M /work/tmp-io46/bin/main $DB $O/main 2 60 0
$M /work/tmp-io46/bin/io46w $DB $O/io46 2 60 0
$M /work/tmp-io46/bin/io46w $DB $O/io46 1 60 0
$M /work/tmp-io46/bin/main $DB $O/main 1 60 0
