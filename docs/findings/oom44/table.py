# Session 44 (oom44): the BENCHMARKS table's rows from runs/ (protocol JSON, cause JSON and tables). usage: python3 table.py
import json, re, os
D = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runs")
builds = [("MAIN33", "session 33's main `be53434`"), ("pre41", "`cb7520e` (before the merge)"), ("at41", "`e9940b0` (the merge)"),
          ("MAIN44", "today's main `90e6f2f`"), ("MAIN44-LOGMAX512", "today's main, `BUFPOOL_TPCC_LOG_MAX=536870912`"), ("FIX44", "**this branch**")]
def js(p):
    if not os.path.exists(p): return None
    return json.load(open(p))["results"][0]
for name, label in builds:
    for T in (1, 2):
        a = js(f"{D}/{name}-t{T}.json"); c = js(f"{D}/cause/{name}-t{T}.json")
        if not a and not c: continue
        tab = f"{D}/cause/{name}-t{T}.table"
        split = ["-"] * 3; alone = "-"
        if os.path.exists(tab):
            L = open(tab).read()
            m = re.search(r"data files ([\d.]+) \(checkpoints ([\d.]+), evictions ([\d.]+).*txn log ([\d.]+) \+ tree logs ([\d.]+) \(stock.wal ([\d.]+)\)", L)
            split = ["%s / %s" % (m.group(2), m.group(3)), m.group(4), "%s (%s)" % (m.group(5), m.group(6))]
            lines = L.split("\n"); i = [k for k, l in enumerate(lines) if l.startswith("cuts")][0]; cuts = []
            for l in lines[i+1:]:
                if not l.strip(): break
                t, n, mb = l.split(); cuts.append((float(t), n, float(mb)))
            al = [c for c in cuts if c[1] == "stock.wal" and not any(abs(d[0]-c[0]) < 1 and d[1] == "customer.wal" for d in cuts)]
            tx = [c for c in cuts if c[1] == "txn.log"]
            alone = ", ".join("%.0f" % c[0] for c in al) or "none"
            if tx: alone += "; all trees at %.0f" % tx[0][0]
        f = lambda r, k, fmt: (fmt % r[k]) if r else "-"
        tps = "%s (%s)" % (f(a, "ops_per_sec", "%.0f"), f(c, "ops_per_sec", "%.0f"))
        wr = "%s (%s)" % (f(a, "writes_per_op", "%.3f"), f(c, "writes_per_op", "%.3f"))
        print(f"| {label} | {T} | {tps} | {wr} | {split[0]} | {split[1]} | {split[2]} | {alone} |")
