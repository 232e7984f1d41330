#!/usr/bin/env bash
# Session 31 (ckpt31): direct30's timed pairs (apply27's: TPC-C 4 warehouses in memory, nondurable-autocommit, 12 s,
# each run on its own fresh copy of one database, the builds in the order given, per-second samples kept), then
# each run's checkpoint seconds from its samples (ckpt_seconds.sh). A NAME's BIN may be a wrapper script that sets
# an environment switch.
# usage (under /work/timed, each call < 3 min): pairs.sh DB OUT T NAME=BIN [NAME=BIN ...]
set -u
here=$(dirname "$0")
"$here/../direct30/pairs.sh" "$@"
"$here/ckpt_seconds.sh" "$2" | tee "$2/ckpt-seconds.txt"
