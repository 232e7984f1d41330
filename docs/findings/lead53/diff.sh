#!/usr/bin/env bash
# Session 53: two pertx.sh outputs side by side: "B-A A B symbol", largest increase first.
# usage: diff.sh A.txt B.txt
join -t'|' -a1 -a2 -e 0 -o 0,1.2,2.2 <(awk '{v=$1; $1=""; print $0 "|" v}' $1 | sort -t'|' -k1,1) \
  <(awk '{v=$1; $1=""; print $0 "|" v}' $2 | sort -t'|' -k1,1) | awk -F'|' '{printf "%8.1f %8.1f %8.1f %s\n", $3-$2, $2, $3, $1}' | sort -rn
