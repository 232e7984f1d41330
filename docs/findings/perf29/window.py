"""perf29: committed transactions in a window of a prof.sh run, from its per-second samples (--tpcc-samples)."""
import re


def window_tx(path, lo=2.0, hi=10.0):
    """Transactions committed between lo and hi seconds of the run (each sample's rate spread over its interval);
    prof.sh's perf window starts once 2 sample lines exist (~2.0 s) and lasts 8 s."""
    prev = 0.0; tx = 0.0
    for l in open(path):
        if not re.match(r'^[0-9]', l): continue
        f = l.split(','); end, rate = float(f[0]), float(f[1])
        a, b = max(prev, lo), min(end, hi)
        if b > a: tx += rate * (b - a)
        prev = end
    return tx
