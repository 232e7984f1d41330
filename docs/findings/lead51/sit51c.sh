#!/bin/bash
cd /work/main
N=/work/tmp-lead51/bufpool-71db8fd; M=/work/tmp-lead51/bufpool-f181716
# M first this time, no vmcache
T=2 MODES="0" VMC=0 /work/timed docs/findings/speed36/steady.sh /work/tmp-lead50/db /work/tmp-lead51/sitC 60 M=$M N=$N
