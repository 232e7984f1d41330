#!/usr/bin/env python3
"""Session 45 (ckpt45): meas.sh's runs, checkpoint seconds against the others.

usage: an.py OUT T [sys|dwarf]
A second of the run is a checkpoint second when the samples count more than 50 syncs in it (steady.sh's rule);
the 1st and 2nd seconds (the open's round of images) and the last are left out. The run's start (second 0 of the
samples) is the workers' first event (they are spawned for the measured window, once the open is done). Then the
lost transactions by cause: tx/s = the workers' CPU / the CPU a transaction, so the log of the two classes' ratio is
the sum of the two parts'; each part split in proportion to its own differences (who took the CPU; which functions
grew). meas.sh's first form (`perf record -F`) sampled the switches too: their on-CPU figures are then wrong, the
samples' right.

sys (default): from the system-wide run, means a second in each class: tx/s; each worker's time on a CPU, runnable
(switched out while runnable: preempted, with who took the CPU) and asleep by the kernel's reason (the switched-out
stack's first telling frame); the other threads' CPU (cpu-clock samples, 499 Hz: 1 sample = 2.004 ms) by role;
the machine's idle; the kernel's CPU (all threads) by system call or interrupt and by leaf function; the workers'
user CPU a transaction by function (us), with the largest differences.
dwarf: from the DWARF run (every switch of our threads), each worker's time off its CPU a second, by the kernel's
reason (preempted, or asleep: futex, rwsem, ...) and the first user frame perf could unwind (the leaf only: a
futex wait's is libc's `syscall`), in each class, with the count a second.
"""
import collections
import re
import subprocess
import sys

OUT, T = sys.argv[1], int(sys.argv[2])
MODE = sys.argv[3] if len(sys.argv) > 3 else "sys"
PERIOD = 1 / 499.0
COMM = "main"  # the comm of the bench's unnamed threads (its driver and workers)

HEAD = re.compile(r"^\s*(\S.*?)\s+(\d+)/(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(?:\d+\s+)?(\S+):\s*(.*)$")
SW = re.compile(r"prev_comm=(.*?) prev_pid=(\d+) prev_prio=\d+ prev_state=(\S+) ==> next_comm=(.*?) next_pid=(\d+)")


def events(data):
    """[comm, pid, tid, cpu, time, event, rest, frames, leaf in the kernel] from `perf script`, frames as symbol
    names, the leaf first."""
    p = subprocess.Popen(
        ["perf", "script", "-i", data, "-F", "comm,pid,tid,cpu,time,event,trace,ip,sym"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1 << 20)
    cur = None
    for line in p.stdout:
        if line[0] in "\t " and cur is not None and not HEAD.match(line):
            s = line.strip()
            if s:
                parts = s.split(None, 1)
                sym = parts[1] if len(parts) > 1 else parts[0]
                if not cur[7]:  # the leaf: is it the kernel's?
                    try:
                        cur[8] = int(parts[0], 16) >= 0xFFFF800000000000
                    except ValueError:
                        pass
                cur[7].append(re.sub(r"\+0x[0-9a-f]+", "", sym.split(" (")[0]))
                continue
        m = HEAD.match(line)
        if m:
            if cur is not None:
                yield cur
            comm, pid, tid, cpu, t, ev, rest = m.groups()
            cur = [comm.strip(), int(pid), int(tid), int(cpu), float(t), ev.split("/")[0], rest, [], False]
        elif not line.strip() and cur is not None:
            yield cur
            cur = None
    if cur is not None:
        yield cur


def load_samples(tag):
    rows = []
    for l in open(f"{OUT}/{tag}-t{T}.samples.csv"):
        if l[0].isdigit():
            f = l.split(",")
            rows.append((float(f[0]), int(f[1]), float(f[3])))
    return rows


def classes(rows):
    """Per samples row: (start, end, tx/s, class) in seconds since the start."""
    out, prev = [], 0.0
    for i, (s, tx, syncs) in enumerate(rows):
        c = "ckpt" if syncs > 50 else "other"
        if i < 2 or i == len(rows) - 1:
            c = None
        out.append((prev, s, tx, c))
        prev = s
    return out


def reason(frames, state):
    if state.startswith("R"):
        return "preempted"
    j = " ".join(frames[:25])
    for key, name in [
        ("futex_wait", "futex (user lock/park)"),
        ("rwsem_down_write", "rwsem write (inode lock)"),
        ("rwsem_down_read", "rwsem read"),
        ("io_schedule", "I/O wait"),
        ("jbd2", "journal wait"),
        ("do_nanosleep", "nanosleep"),
        ("io_cqring_wait", "io_uring wait"),
        ("mutex_lock", "kernel mutex"),
        ("do_epoll_wait", "epoll"),
        ("exit_to_user_mode", "signal/exit"),
    ]:
        if key in j:
            return name
    named = [f for f in frames if not f.startswith(("__schedule", "schedule", "[unknown]"))]
    return "other: " + (named[0] if named else "?")


def kclass(frames):
    """A kernel sample's system call (or interrupt) and leaf."""
    sysc = next((f for f in frames if f.startswith("__x64_sys_") or f.startswith("__do_sys_")), None)
    if sysc is None:
        if any("irq" in f or "softirq" in f or "sysvec" in f for f in frames):
            sysc = "irq/softirq"
        elif any("page_fault" in f for f in frames):
            sysc = "page fault"
        elif any(f.startswith(("worker_thread", "kthread")) for f in frames):
            sysc = "kthread"
        else:
            sysc = "other: " + (frames[-1] if frames else "?")
    return sysc.replace("__x64_sys_", "").replace("__do_sys_", ""), frames[0] if frames else "?"


def split_interval(acc, a, b, key, secs):
    """Adds the parts of [a, b) (seconds since start) to acc[row][key]."""
    for i, (s0, s1, _, c) in enumerate(secs):
        lo, hi = max(a, s0), min(b, s1)
        if hi > lo:
            acc[i][key] += hi - lo


def main():
    tag = MODE
    pid = int(open(f"{OUT}/{tag}-t{T}.pid").read())
    secs = classes(load_samples(tag))
    evs = list(events(f"{OUT}/{tag}-t{T}.data"))
    # threads of the process
    comm = {}
    samples_by_tid = collections.Counter()
    for e in evs:
        if e[1] == pid:
            comm[e[2]] = e[0]
            if e[5] == "cpu-clock":
                samples_by_tid[e[2]] += 1
    for e in evs:
        if e[5].endswith("sched_switch"):
            m = SW.search(e[6])
            if m:
                for c, t in ((m.group(1), int(m.group(2))), (m.group(4), int(m.group(5)))):
                    if c == COMM and t not in comm and t != 0:
                        comm[t] = c
    plain = sorted(t for t, c in comm.items() if c == COMM)
    # roles: main = pid; the slow (checkpoint) thread is spawned after the workers: the highest plain tid
    # the workers: the T plain threads but main and slow with the most switch events / samples
    sw_by_tid = collections.Counter()
    for e in evs:
        if e[5].endswith("sched_switch"):
            m = SW.search(e[6])
            if m:
                sw_by_tid[int(m.group(2))] += 1
    slow = max(plain)
    cand = [t for t in plain if t not in (pid, slow)]
    workers = sorted(sorted(cand, key=lambda t: -(samples_by_tid[t] + sw_by_tid[t]))[:T])
    role = {pid: "main (tick, write-outs)", slow: "checkpoint thread"}
    for w in workers:
        role[w] = "worker"
    # switch intervals of the workers
    last_out = {}
    ivals = collections.defaultdict(list)  # tid -> (out_t, in_t, reason, who)
    for e in evs:
        if not e[5].endswith("sched_switch"):
            continue
        m = SW.search(e[6])
        if not m:
            continue
        prev, state, nxt = int(m.group(2)), m.group(3), int(m.group(5))
        if prev in role and role[prev] == "worker":
            who = role.get(nxt, m.group(4))
            last_out[prev] = (e[4], reason(e[7], state), who)
        if nxt in last_out:
            o = last_out.pop(nxt)
            ivals[nxt].append((o[0], e[4], o[1], o[2]))
    # t0: the workers' first event (they are spawned for the measured window, and the open is done before)
    t0 = min(e[4] for e in evs if e[2] in workers or (e[5] == "sched_switch" and SW.search(e[6])
                                                       and int(SW.search(e[6]).group(5)) in workers))
    print(f"{OUT} {tag} t{T}: pid {pid}, workers {workers}, checkpoint thread {slow}, start {t0:.3f}, "
          f"{len(evs)} events")
    n = len(secs)
    acc = [collections.Counter() for _ in range(n)]

    def row_of(t):
        x = t - t0
        for i, (s0, s1, _, _) in enumerate(secs):
            if s0 <= x < s1:
                return i
        return None

    for w in workers:
        for a, b, r, who in ivals[w]:
            split_interval(acc, a - t0, b - t0, "off:" + r, secs)
            if r == "preempted":
                wc = ("iou-wrk" if who.startswith("iou-wrk") else "kworker" if who.startswith("kworker")
                      else "the other worker" if who == "worker" else who)
                for i in [row_of(a)]:
                    if i is not None:
                        acc[i]["preempted by:" + wc] += 1
            else:
                i = row_of(a)
                if i is not None:
                    acc[i]["sleeps:" + r] += 1
    wfun = [collections.Counter() for _ in range(n)]
    kfun = [collections.Counter() for _ in range(n)]
    kleaf = [collections.Counter() for _ in range(n)]
    for e in evs:
        if e[5] != "cpu-clock":
            continue
        i = row_of(e[4])
        if i is None:
            continue
        c, p, tid = e[0], e[1], e[2]
        if p == 0:
            acc[i]["cpu:idle"] += PERIOD
            continue
        if p == pid:
            r = role.get(tid, "pool's " + c if c != COMM else "other bufpool")
            if c.startswith("iou-wrk"):
                r = "io_uring workers"
        elif c.startswith("kworker"):
            r = "kworker"
        elif c.startswith("jbd2"):
            r = "jbd2"
        elif c.startswith("perf"):
            r = "perf"
        else:
            r = "other processes"
        acc[i]["cpu:" + r] += PERIOD
        fr = e[7]
        is_k = e[8]
        if is_k:
            sysc, leaf = kclass(fr)
            acc[i]["kernel:" + r] += PERIOD
            kfun[i][sysc] += PERIOD
            kleaf[i][leaf] += PERIOD
        if r == "worker":
            sym = fr[0] if fr else "?"
            wfun[i]["[k] " + sym if is_k else sym] += PERIOD
    for i, (s0, s1, tx, c) in enumerate(secs):
        acc[i]["tx"] = tx * (s1 - s0)
        acc[i]["len"] = s1 - s0
    groups = {"ckpt": [i for i, s in enumerate(secs) if s[3] == "ckpt"],
              "other": [i for i, s in enumerate(secs) if s[3] == "other"]}

    def mean(g, k, src=None):
        src = src or acc
        idx = groups[g]
        L = sum(acc[i]["len"] for i in idx)
        return sum(src[i][k] for i in idx) / L if L else float("nan")

    L = {g: sum(acc[i]["len"] for i in idx) for g, idx in groups.items()}
    TX = {g: sum(acc[i]["tx"] for i in idx) for g, idx in groups.items()}
    print(f"seconds: ckpt {len(groups['ckpt'])} ({L['ckpt']:.1f} s), other {len(groups['other'])} "
          f"({L['other']:.1f} s); per-second classes "
          + " ".join(f"{i + 1}:{s[3][0] if s[3] else '-'}{s[2] // 1000}" for i, s in enumerate(secs)))
    print(f"  {'a second (ms unless said)':48s} {'ckpt':>9s} {'other':>9s} {'diff':>9s}")

    def line(name, a, b, scale=1000.0, fmt="{:9.1f}"):
        print(f"  {name:48s} " + fmt.format(a * scale) + " " + fmt.format(b * scale) + " " + fmt.format((a - b) * scale))

    line("tx/s (K)", TX["ckpt"] / L["ckpt"], TX["other"] / L["other"], 1e-3)
    keys = sorted({k for a in acc for k in a})
    wk = len(workers)
    on = {}
    for g in groups:
        off = sum(mean(g, k) for k in keys if k.startswith("off:"))
        on[g] = wk - off
    line(f"workers on a CPU (sum of {wk}, from switches)", on["ckpt"], on["other"])
    for k in sorted((k for k in keys if k.startswith("off:")), key=lambda k: -(mean("ckpt", k) + mean("other", k))):
        a, b = mean("ckpt", k), mean("other", k)
        if max(a, b) * 1000 >= 0.5:
            line("  workers " + k[4:], a, b)
    for pref, title in (("sleeps:", "  sleeps a second: "), ("preempted by:", "  preemptions a second by ")):
        for k in sorted((k for k in keys if k.startswith(pref)), key=lambda k: -mean("ckpt", k)):
            a, b = mean("ckpt", k), mean("other", k)
            if max(a, b) >= 2:
                line(title + k[len(pref):], a, b, 1.0, "{:9.0f}")
    print("  CPU by thread or process (cpu-clock samples):")
    for k in sorted((k for k in keys if k.startswith("cpu:")), key=lambda k: -mean("ckpt", k)):
        line("    " + k[4:], mean("ckpt", k), mean("other", k))
    print("  of it in the kernel:")
    for k in sorted((k for k in keys if k.startswith("kernel:")), key=lambda k: -mean("ckpt", k)):
        line("    " + k[7:], mean("ckpt", k), mean("other", k))
    for title, table in (("kernel CPU (all threads, not idle) by system call / context", kfun),
                         ("kernel CPU by leaf function", kleaf)):
        print("  " + title + ":")
        ks = collections.Counter()
        for i in groups["ckpt"] + groups["other"]:
            ks.update(table[i])
        for k, _ in ks.most_common(16):
            line("    " + k, mean("ckpt", k, table), mean("other", k, table))
    # workers' CPU a transaction by function
    per = {}
    for g, idx in groups.items():
        c = collections.Counter()
        for i in idx:
            c.update(wfun[i])
        per[g] = {k: v / TX[g] * 1e6 for k, v in c.items()}
    tot = {g: sum(per[g].values()) for g in per}
    print(f"  workers' CPU a transaction (cpu-clock, us): ckpt {tot['ckpt']:.2f}, other {tot['other']:.2f}")
    allk = set(per["ckpt"]) | set(per["other"])
    for k in sorted(allk, key=lambda k: -abs(per["ckpt"].get(k, 0) - per["other"].get(k, 0)))[:40]:
        a, b = per["ckpt"].get(k, 0), per["other"].get(k, 0)
        print(f"    {k[:60]:60s} {a:7.2f} {b:7.2f} {a - b:+7.2f}")
    # The lost transactions by cause: tx/s = workers' CPU / CPU a transaction, so ln(ckpt/other) is the sum of
    # the CPU's part and the CPU-a-transaction's; each part split by its own differences (who took the CPU, which
    # functions grew), in proportion.
    import math
    txc, txo = TX["ckpt"] / L["ckpt"], TX["other"] / L["other"]
    wc, wo = mean("ckpt", "cpu:worker"), mean("other", "cpu:worker")
    total = math.log(txc / txo)
    cpu_part = math.log(wc / wo)
    tx_part = total - cpu_part
    lost = txo - txc
    print(f"  lost: {lost:.0f} tx/s in each checkpoint second ({100 * (1 - txc / txo):.1f}%); by cause (share of the loss):")
    print(f"    the workers' CPU {wo * 1000:.0f} -> {wc * 1000:.0f} ms a second: {100 * cpu_part / total:.0f}%")
    takers = {k[4:]: mean("ckpt", k) - mean("other", k) for k in keys if k.startswith("cpu:") and k != "cpu:worker"}
    gone = sum(takers.values())
    for k, v in sorted(takers.items(), key=lambda kv: -kv[1]):
        if abs(v) * 1000 >= 1:
            print(f"      {k:40s} {v * 1000:+7.1f} ms a second: {100 * cpu_part / total * v / gone:5.1f}%")
    print(f"    the CPU a transaction {tot['other']:.2f} -> {tot['ckpt']:.2f} us: {100 * tx_part / total:.0f}%")
    groups_f = [("kernel on the workers' threads (interrupts, switches, their own system calls)", lambda k: k.startswith("[k]")),
                ("leaf images (log_leaf, crc32c)", lambda k: "log_leaf" in k or "crc32c" in k or "cover_leaf" in k),
                ("lock and latch spins (take_next, take_stripes, latch_leaf, snooze)",
                 lambda k: any(x in k for x in ("take_next", "take_stripes", "latch_leaf", "snooze", "park"))),
                ("every other function", lambda k: True)]
    grow = collections.Counter()
    for k in allk:
        d = per["ckpt"].get(k, 0) - per["other"].get(k, 0)
        for name, sel in groups_f:
            if sel(k):
                grow[name] += d
                break
    g_all = sum(grow.values())
    for name, _ in groups_f:
        print(f"      {name:78s} {grow[name]:+6.2f} us: {100 * tx_part / total * grow[name] / g_all:5.1f}%")


def dwarf():
    tag = "dwarf"
    pid = int(open(f"{OUT}/{tag}-t{T}.pid").read())
    secs = classes(load_samples(tag))
    comm, sw = {}, collections.Counter()
    evs = list(events(f"{OUT}/{tag}-t{T}.data"))
    for e in evs:
        m = SW.search(e[6])
        if m and m.group(1) == COMM:
            sw[int(m.group(2))] += 1
    plain = sorted(sw)
    slow = max(plain)
    workers = sorted(sorted([t for t in plain if t not in (pid, slow)], key=lambda t: -sw[t])[:T])
    last_out, ivals = {}, collections.defaultdict(list)
    for e in evs:
        m = SW.search(e[6])
        if not m:
            continue
        prev, state, nxt = int(m.group(2)), m.group(3), int(m.group(5))
        if prev in workers:
            fr = e[7]
            # the kernel's reason, then the first user frame (perf's DWARF unwinding gives the leaf and its
            # inlined callers only: a futex wait's leaf is libc's `syscall`, not the lock)
            user = next((f for f in fr if not f.startswith(("__schedule", "schedule")) and "_sys_" not in f
                         and not f.startswith(("do_syscall", "entry_SYSCALL", "futex", "__futex", "do_futex",
                                               "irqentry", "asm_", "rwsem", "down_", "ext4_", "io_schedule",
                                               "preempt", "raw_", "_raw", "exit_to_user", "ret_from"))), "?")
            r = reason(fr, state) + " | " + user[:80]
            last_out[prev] = (e[4], r)
        if nxt in last_out:
            o = last_out.pop(nxt)
            ivals[nxt].append((o[0], e[4], o[1]))
    t0 = min(e[4] for e in evs if e[2] in workers or (SW.search(e[6]) and int(SW.search(e[6]).group(5)) in workers))
    acc = [collections.Counter() for _ in secs]
    cnt = [collections.Counter() for _ in secs]
    for w in workers:
        for a, b, r in ivals[w]:
            split_interval(acc, a - t0, b - t0, r, secs)
            for i, (s0, s1, _, _) in enumerate(secs):
                if s0 <= a - t0 < s1:
                    cnt[i][r] += 1
    groups = {"ckpt": [i for i, s in enumerate(secs) if s[3] == "ckpt"],
              "other": [i for i, s in enumerate(secs) if s[3] == "other"]}
    L = {g: sum(secs[i][1] - secs[i][0] for i in idx) for g, idx in groups.items()}
    TX = {g: sum(secs[i][2] * (secs[i][1] - secs[i][0]) for i in idx) / L[g] for g, idx in groups.items()}
    print(f"{OUT} dwarf t{T}: workers {workers}, start {t0:.3f}; ckpt {len(groups['ckpt'])} s at {TX['ckpt']:.0f} "
          f"tx/s, other {len(groups['other'])} s at {TX['other']:.0f}")
    print(f"  {'workers off a CPU, ms a second (count a second)':110s} {'ckpt':>14s} {'other':>14s}")
    tot = collections.Counter()
    for i in range(len(secs)):
        tot.update(acc[i])
    for k, _ in tot.most_common(30):
        v = {g: (sum(acc[i][k] for i in idx) / L[g] * 1000, sum(cnt[i][k] for i in idx) / L[g]) for g, idx in groups.items()}
        print(f"  {k[:110]:110s} {v['ckpt'][0]:7.1f} ({v['ckpt'][1]:4.0f}) {v['other'][0]:7.1f} ({v['other'][1]:4.0f})")


if MODE == "dwarf":
    dwarf()
else:
    main()
