#!/usr/bin/env bash
# Session 45 (zero45): one /work/timed call: ahead2's counts (nondurable-autocommit and durable at 2 threads), then
# two alternated pairs of main and ahead2 at 2 threads (speed37/pairs.sh). usage: ahead2.sh MAIN AHEAD2 DB OUT
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
CFGS="nondurable-autocommit:2 durable:2" $HERE/count.sh $2 $3 $4/counts ahead2
$HERE/../speed37/pairs.sh 2 2 $3 $4/pairs-t2 A=$1 B=$2
