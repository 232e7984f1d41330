#!/bin/sh
# speed35's lever: a checkpoint's or flush's runs up to 256 pages (1 MiB) a write
BUFPOOL_EXP_RUN_PAGES=256 exec /work/wt/speed35-bin/lever "$@"
