#!/bin/sh
# gap26's variants: one release build of branch gap26 (BIN), a wrapper per variant setting its switches.
# usage: variants.sh BIN DIR  (writes DIR/base, DIR/a .. DIR/e)
BIN=$1; DIR=$2; mkdir -p $DIR
mk(){ n=$1; shift; { echo '#!/bin/sh'; echo "exec env $* $BIN \"\$@\""; } > $DIR/$n; chmod +x $DIR/$n; }
mk base BUFPOOL_GAP_NONE=1                       # every promise kept (the switches read, all off)
mk a BUFPOOL_TPCC_LOG_MAX=1099511627776          # (a) no checkpoint during the run
mk b BUFPOOL_GAP_NO_IMAGES=1                     # (b) no full-page images in the tree logs
mk c BUFPOOL_GAP_NO_LOGS=1                       # (c) no transaction-log or tree-log record
mk d BUFPOOL_GAP_NO_LOCKS=1                      # (d) no transaction locks
mk e BUFPOOL_TPCC_LOG_MAX=1099511627776 BUFPOOL_GAP_NO_IMAGES=1 BUFPOOL_GAP_NO_LOGS=1 BUFPOOL_GAP_NO_LOCKS=1  # (e) all
