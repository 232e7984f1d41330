#!/usr/bin/env python3
"""Correct an ab26.sh summary's vmcache medians (session 33). ab26.sh took vmcache's median over every line after
its first whose first field compared >= 3, which let its two banner lines and its CSV header in as empty values
(awk compares a non-numeric field as a string): three values below every sample in each median, so of vmcache's
12 samples (RUNFOR=15) the 5th-lowest was taken instead of the 6th (the script's lower middle). This recomputes each
round's vmcache median from the raw CSV over its numeric sample lines only (ts >= 3) and writes the summary with
the corrected figures (the old and new values on stderr).
usage: revmc.py SUMMARY RAWDIR [PREFIX] > CORRECTED_SUMMARY   (RAWDIR holds PREFIXvmc-rR-tT.csv)"""
import os, statistics, sys
summary, raw = sys.argv[1], sys.argv[2]
pre = sys.argv[3] if len(sys.argv) > 3 else ''
for line in open(summary):
    f = line.split()
    if len(f) >= 5 and f[2] == 'vmcache':
        r, t = f[0], f[1]
        xs = []
        for row in open(os.path.join(raw, f"{pre}vmc-{r}-{t}.csv")):
            c = row.strip().split(',')
            if len(c) > 1 and c[0].isdigit() and int(c[0]) >= 3:
                xs.append(int(c[1]))
        xs.sort()
        # the same order statistic the script meant: the lower middle for an even count (awk's a[int((NR+1)/2)])
        med = xs[(len(xs) + 1) // 2 - 1]
        sys.stderr.write(f"{r} {t}: was {f[4]}, now {med} over {len(xs)} samples\n")
        f[4] = str(med)
        line = ' '.join(f) + '\n'
    sys.stdout.write(line)
