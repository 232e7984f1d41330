#!/usr/bin/env bash
# cover28's builds (run under /work/heavy from the worktree): A = main 884749e, B1 = 6094180 (all four commits),
# Bf = f21ba1c (the fence alone), Bn = 6094180 without f21ba1c's wal.rs (commits 2-4 alone); each from a
# `git archive` into its own source dir, one target dir, the binary copied out before the next build (B1 was
# built in the worktree itself at 6094180, the same sources).
# usage: variants.sh TMP   (then docs/findings/apply27/pairs.sh under /work/timed with TMP/bin/NAME)
set -eu
T=$1; WT=$(pwd); mkdir -p $T/bin
build() { # NAME REV [revert-wal-of-REV2]
  rm -rf $T/src-$1; mkdir -p $T/src-$1; git archive $2 | tar -x -C $T/src-$1
  if [ $# -gt 2 ]; then git diff $3^ $3 -- crates/bufpool-btree/src/wal.rs | (cd $T/src-$1 && patch -p1 -R); fi
  (cd $T/src-$1 && CARGO_TARGET_DIR=$WT/target cargo build --release -p bufpool-cli)
  cp $WT/target/release/bufpool $T/bin/$1
}
build main 884749e
build B1 6094180
build Bf f21ba1c
build Bn 6094180 f21ba1c
