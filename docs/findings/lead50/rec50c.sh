#!/bin/bash
# one crashed state (SECS seconds of 2-thread log, no checkpoint), then each binary's recovery of a copy of it,
# alternated: session 51's rec51c.sh (the same steps, made general) on session 50's directory, database and binary.
# usage: rec50c.sh NAME=BINARY...
O=/work/tmp-lead50/rec B=/work/tmp-lead50/bufpool-b59b918 DB=/work/tmp-lead50/db \
  exec "$(dirname "$0")/../rec51/rec51c.sh" "$@"
