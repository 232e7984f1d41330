#!/bin/bash
# perf48: one build counted as perf47 counted: cpu41/count.sh (first 10,000), then cgi.sh for 50,000 and 150,000
# (the windows 10,001-50,000 and 50,001-150,000 by difference). usage: count3.sh BIN DB OUT NAME
HERE=$(cd "$(dirname "$0")" && pwd); BIN=$1; DB=$2; OUT=$3; NAME=$4
/work/heavy bash $HERE/../cpu41/count.sh $BIN $DB $OUT $NAME
/work/heavy bash $HERE/cgi.sh $BIN $DB $OUT ${NAME}50k 50000
/work/heavy bash $HERE/cgi.sh $BIN $DB $OUT ${NAME}150k 150000
