#!/bin/bash
# nwo48: counts.txt from count.sh's files (/work/tmp-nwo48/cg): totals, per type, parts and self instructions by
# function over transactions 50,001-150,000, main's first: perf49/counts.sh (nwo48's, made general) over this
# branch's builds.
D=/work/tmp-nwo48 exec bash "$(dirname "$0")/../perf49/counts.sh" main l1 l2 l3 l4 l5
