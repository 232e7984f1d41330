#!/bin/bash
# usage: build.sh NAME COMMIT  -- release build of COMMIT from a git archive copy, binary to bin/NAME
set -e
T=/work/tmp-inplace29; NAME=$1; C=$2
export CARGO_TARGET_DIR=$T/target-ab
rm -rf $T/src-$NAME; mkdir -p $T/src-$NAME
cd /work/wt/inplace29 && git archive $C | tar -x -C $T/src-$NAME
# git archive stamps files with the commit time: a build of an older commit into the shared target would be
# taken as fresh (cargo compares mtimes), so every file is stamped now.
find $T/src-$NAME -type f -exec touch {} +
cd $T/src-$NAME && /work/heavy cargo build --release -p bufpool-cli
cp $T/target-ab/release/bufpool $T/bin/$NAME
echo BUILD_DONE $NAME $C
