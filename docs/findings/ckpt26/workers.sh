#!/bin/bash
# The io_uring workers' ext4 inode updates of a punt.sh recording, by the cause in their call chain.
# Usage: workers.sh TAG.perf
perf script -i "$1" -F comm,tid,event,ip,sym 2>/dev/null |
  awk '/^ *iou-wrk/ && /ext4_mark_inode_dirty/ {grab=1; stack=""; next} grab && NF==0 {print stack; grab=0; next} grab {stack=stack" < "$2}' |
  awk '{ if ($0 ~ /file_update_time/) k="mtime"; else if ($0 ~ /ext4_mb_new_blocks/) k="block allocation";
         else if ($0 ~ /convert_unwritten/) k="unwritten-extent conversion"; else if ($0 ~ /inode_extension/) k="i_size extension";
         else if ($0 ~ /insert_extent/) k="extent insertion"; else k="other"; print k}' | sort | uniq -c
