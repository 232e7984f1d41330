#!/bin/bash
cd /work/main
N=/work/tmp-lead51/bufpool-71db8fd; M=/work/tmp-lead51/bufpool-f181716
T=2 MODES="0 0" /work/timed docs/findings/speed36/steady.sh /work/tmp-lead50/db /work/tmp-lead51/sitB 60 N=$N M=$M
T=1 MODES="0 0" /work/timed docs/findings/speed36/steady.sh /work/tmp-lead50/db /work/tmp-lead51/sitB 60 N=$N M=$M
