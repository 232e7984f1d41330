#!/usr/bin/env bash
# perf29: cores.c at 1 and 2 copies (run under /work/timed); usage: cores.sh BIN
B=$1
for kib in 256 4096 262144; do
  it=$(( kib >= 262144 ? 30000000 : 100000000 ))
  echo "1 copy:";   $B $kib $it
  echo "2 copies:"; $B $kib $it & $B $kib $it; wait
done
