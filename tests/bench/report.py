#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# report.py MODE RESULTS-DIR OUT-DIR: the report of run.sh's hyperfine
# JSON.  quick: the targets, printed.  full: OUT-DIR/benchmarks.md with
# the targets, the matrix, every configuration's times, the proxy's CPU
# per GiB, how often requests cross stripes, and two plots; every
# sentence with a figure in it is written here, from the data, so that
# none can go stale.
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plan  # noqa: E402

mode, results_dir, out_dir = sys.argv[1], sys.argv[2], sys.argv[3]
top = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
CLIENT_TITLE = {"qemu-img-m8": "qemu-img -m 8", "qemu-img-m16":
                "qemu-img -m 16", "nbdcopy": "nbdcopy",
                "fio-randwrite": "fio random writes",
                "fio-4k-1": "fio 4K, 1 job", "fio-4k-4": "fio 4K, 4 jobs",
                "fio-fsync": "fio 4K with fsync=1"}


def load():
    """Every round's times of a configuration together, and which
    scenarios were timed by paired.py (the i-th times of all their
    configurations come from one turn)."""
    data, paired = {}, set()
    for name in sorted(os.listdir(results_dir)):
        if not name.endswith(".json") or "-r" not in name:
            continue
        base = name[:-5]
        stem, _ = base.rsplit("-r", 1)
        scenario, client = stem.split("-", 1)
        with open(os.path.join(results_dir, name)) as f:
            doc = json.load(f)
        if doc.get("paired"):
            paired.add((scenario, client))
        for r in doc["results"]:
            data.setdefault((scenario, client), {}).setdefault(
                r["command"], []).extend(r["times"])
    return data, paired


DATA, PAIRED = load()


# "base:" in front of multicopy's configurations: the baseline build
# of BENCH_BASELINE, timed in the same run (run.sh).
PREFIX = ""


def build(config):
    return PREFIX + config if config.startswith(("mc-", "filter-")) else config


def med(scenario, client, config):
    times = DATA.get((scenario, client), {}).get(build(config))
    return statistics.median(times) if times else None


def ratio(scenario, client, a, b):
    """a's time over b's: of paired runs, the median of the ratios turn
    by turn (drift cancels); else the ratio of the medians."""
    runs = DATA.get((scenario, client), {})
    x, y = runs.get(build(a)), runs.get(build(b))
    if not x or not y:
        return None
    if (scenario, client) in PAIRED and len(x) == len(y):
        return statistics.median(p / q for p, q in zip(x, y))
    return statistics.median(x) / statistics.median(y)


def hidden(client, config="mc-default"):
    """Share of the 2 ms delay hidden: (direct - this) / (direct - the
    same copy with no delay)."""
    d = med("latency", client, "direct")
    m = med("latency", client, config)
    f = med("floor", client, "direct")
    if not (d and m and f) or d <= f:
        return None
    return (d - m) / (d - f)


def ceiling(scenario, client):
    """A sentence on the most any proxy could give the client: the
    same copy straight into the upstream serving every request at once
    (direct-parallel), or None if that was not timed."""
    x = ratio(scenario, client, "direct", "direct-parallel")
    m = ratio(scenario, client, "direct-parallel", "mc-default")
    if not x or not m:
        return None
    return (f"Straight into the same upstream serving every request at "
            f"once (no proxy, no limit per connection) the client's own "
            f"ceiling is {x:.2f}x direct; multicopy with its defaults "
            f"reaches {m:.0%} of it.")


def defaults():
    out = subprocess.run(["nbdkit", os.path.join(
        top, "plugin/nbdkit-multicopy-plugin.so"), "--dump-plugin"],
        capture_output=True, text=True).stdout
    kv = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    seg = int(kv["multicopy_segment_size_default"])
    far = int(kv["multicopy_segment_size_far"])
    far_ms = int(kv["multicopy_segment_size_far_rtt_us"]) / 1000
    single = int(kv.get("multicopy_segment_size_near_single", seg))
    return int(kv["multicopy_connections_default"]), size_text(seg), \
        f"{size_text(far)} at a round trip of {far_ms:g} ms or more", \
        int(kv.get("multicopy_connections_near",
                   kv["multicopy_connections_default"])), size_text(single)


def size_text(n):
    return f"{n >> 20}M" if n >= 1 << 20 else f"{n >> 10}K"


# SEG: the stripe over a near upstream (the CPU-bound scenarios);
# SEG_FAR: what the plugin chooses instead over a far one.
# SEG_SINGLE: the stripe over a near upstream without multi-conn (the
# capped link).
CONNS, SEG, SEG_FAR, NEAR_CONNS, SEG_SINGLE = defaults()

TARGETS = [
    ("10 ms, qemu-img -m 8: direct / multicopy (defaults) >= 4.5",
     lambda: ratio("latency10", "qemu-img-m8", "direct", "mc-default"),
     lambda v: v >= 4.5),
    ("10 ms, nbdcopy: direct / multicopy (defaults) >= 5.5",
     lambda: ratio("latency10", "nbdcopy", "direct", "mc-default"),
     lambda v: v >= 5.5),
    ("10 ms, qemu-img -m 16: direct / multicopy connections=16 >= 6.5",
     lambda: ratio("latency10", "qemu-img-m16", "direct", "mc-c16"),
     lambda v: v >= 6.5),
    ("2 ms, qemu-img -m 8: share of the delay hidden >= 70%",
     lambda: hidden("qemu-img-m8"), lambda v: v >= 0.70),
    ("2 ms, nbdcopy: share of the delay hidden >= 70%",
     lambda: hidden("nbdcopy"), lambda v: v >= 0.70),
]
for c in ("qemu-img-m8", "nbdcopy"):
    for cfg, what in (("mc-default", "defaults"), ("mc-c64", "connections=64")):
        TARGETS.append((
            f"CPU-bound, {CLIENT_TITLE[c]}: multicopy ({what}) / nbd plugin "
            "<= 1.05",
            lambda c=c, cfg=cfg: ratio("cpu", c, cfg, "nbd-plugin"),
            lambda v: v <= 1.05))


# issue 21: a request costs no more than through the nbd plugin (the
# same number of requests in less or equal time: IOPS at least equal).
for c in ("fio-4k-1", "fio-4k-4"):
    TARGETS.append((
        f"small requests, {CLIENT_TITLE[c]}, queue depth 32: multicopy "
        "(defaults) / nbd plugin time <= 1.0",
        lambda c=c: ratio("small", c, "mc-default", "nbd-plugin"),
        lambda v: v <= 1.0))

# A link capped per connection is where several connections matter most.
for c in ("qemu-img-m8", "nbdcopy"):
    TARGETS.append((
        f"capped link (200 Mbit/s per connection), {CLIENT_TITLE[c]}: "
        "direct / multicopy (defaults) >= 12",
        lambda c=c: ratio("capped", c, "direct", "mc-default"),
        lambda v: v >= 12))

# A flush after every write: what a flush costs each front end.
for cfg, what in (("mc-default", "multicopy (defaults)"),
                  ("filter-default", "the filter over the nbd plugin")):
    TARGETS.append((
        f"fsync-heavy, fio 4K with fsync=1: {what} / nbd plugin <= 1.05",
        lambda cfg=cfg: ratio("fsync", "fio-fsync", cfg, "nbd-plugin"),
        lambda v: v <= 1.05))

TARGETS.append((
    "two servers, one with 50 ms writes, fio: max-in-flight=auto / "
    "no limit (65536) <= 1.3",
    lambda: ratio("unequal", "fio-randwrite", "mc-c8-s64K",
                  "mc-c8-s64K-unlimited"),
    lambda v: v <= 1.3))


def fmt(v, percent=False):
    if v is None:
        return "not run"
    return f"{v:.0%}" if percent else f"{v:.2f}"


def targets_table():
    rows = ["| target | measured | met |", "|---|---:|:-:|"]
    met = 0
    for text, value, ok in TARGETS:
        v = value()
        good = v is not None and ok(v)
        met += good
        rows.append(f"| {text} | {fmt(v, '%' in text)} | "
                    f"{'yes' if good else ('no' if v is not None else '')} |")
    return "\n".join(rows), met


def matrix(scenario, client):
    direct = med(scenario, client, "direct")
    # No grid timed (plan.py leaves some out): no table.
    if not direct or best(scenario, client) is None:
        return None
    rows = ["| connections | " + " | ".join(f"segment-size={s}"
                                           for s in plan.GRID_SEGS) + " |",
            "|---:|" + "---:|" * len(plan.GRID_SEGS)]
    for c in plan.GRID_CONNS:
        cells = []
        for s in plan.GRID_SEGS:
            m = med(scenario, client, f"mc-c{c}-s{s}")
            cells.append(f"{direct / m:.2f}x ({m:.2f} s)" if m else "-")
        rows.append(f"| {c} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def best(scenario, client):
    """The fastest grid configuration, and its speed-up."""
    direct = med(scenario, client, "direct")
    cands = [(med(scenario, client, f"mc-c{c}-s{s}"), c, s)
             for c in plan.GRID_CONNS for s in plan.GRID_SEGS]
    cands = [x for x in cands if x[0]]
    if not direct or not cands:
        return None
    t, c, s = min(cands)
    return c, s, direct / t


def times_table(scenario, client):
    rows = DATA.get((scenario, client))
    if not rows:
        return None
    direct = med(scenario, client, "direct")
    proxy = med(scenario, client, "nbd-plugin")
    out = ["| configuration | median s | min s | max s | direct / this | "
           "nbd plugin / this |", "|---|---:|---:|---:|---:|---:|"]
    for name, times in rows.items():
        t = statistics.median(times)
        vs_direct = f"{direct / t:.2f}" if direct else "-"
        vs_proxy = f"{proxy / t:.2f}" if proxy else "-"
        out.append(f"| {name} | {t:.3f} | {min(times):.3f} | "
                   f"{max(times):.3f} | {vs_direct} | {vs_proxy} |")
    return "\n".join(out)


def cpu_per_gib(who):
    """Median CPU ms per GiB copied, by (scenario, client, config), of
    the proxy or of the destination (servers.sh record_cpu)."""
    path = os.path.join(results_dir, f"{who}-cpu.txt")
    if not os.path.exists(path):
        return {}
    mib = int(open(os.path.join(results_dir, "machine.txt")).read()
              .split("size: ")[1].split()[0])
    per = {}
    for line in open(path):
        if len(line.split()) != 4:
            continue
        scenario, client, name, ms = line.split()
        per.setdefault((scenario, client, name), []).append(int(ms))
    return {k: (statistics.median(v) * 1024 / mib, len(v))
            for k, v in per.items()}


def cpu_table():
    per = cpu_per_gib("proxy")
    if not per:
        return None, {}
    rows = ["| scenario | client | configuration | proxy CPU, ms per GiB "
            "copied (median) | runs |", "|---|---|---|---:|---:|"]
    for (s, c, n), (m, runs) in sorted(per.items()):
        rows.append(f"| {plan.SHORT[s]} | {CLIENT_TITLE[c]} | {n} | "
                    f"{m:.0f} | {runs} |")
    return "\n".join(rows), {k: m for k, (m, _) in per.items()}


def cpu_bound_table():
    """The CPU-bound copies side by side: time over the nbd plugin's
    (turn by turn), and what the proxy and the destination spent."""
    proxy, dst = cpu_per_gib("proxy"), cpu_per_gib("dst")
    rows = ["| client | configuration | time / nbd plugin's | proxy CPU, "
            "ms per GiB | destination CPU, ms per GiB |",
            "|---|---|---:|---:|---:|"]

    def ms(table, c, name):
        v = table.get(("cpu", c, name))
        return f"{v[0]:.0f}" if v else "-"

    for c in plan.CLIENTS:
        for name in DATA.get(("cpu", c), {}):
            r = ratio("cpu", c, name, "nbd-plugin")
            rows.append(f"| {CLIENT_TITLE[c]} | {name} | {fmt(r)} | "
                        f"{ms(proxy, c, name)} | {ms(dst, c, name)} |")
    return ("\n".join(rows) if len(rows) > 2 else None,
            {k: m for k, (m, _) in dst.items()})


def crossings_table():
    path = os.path.join(results_dir, "crossings.json")
    if not os.path.exists(path):
        return None, None
    data = json.load(open(path))
    sizes = sorted({int(s) for t in data.values() for s in t["stripes"]})
    name = {s: f"{s >> 20}M" if s >= 1 << 20 else f"{s >> 10}K"
            for s in sizes}
    rows = ["| client | requests | mean write | " +
            " | ".join(name[s] for s in sizes) + " |",
            "|---|---:|---:|" + "---:|" * len(sizes)]
    for c, t in data.items():
        cells = [f"{t['stripes'][str(s)]['crossing']:.0%} "
                 f"({t['stripes'][str(s)]['pieces_per_request']:.2f})"
                 for s in sizes]
        rows.append(f"| {CLIENT_TITLE[c]} | {t['requests']} | "
                    f"{t['mean_write_bytes'] >> 10}K | " +
                    " | ".join(cells) + " |")
    return "\n".join(rows), data


def plot(name, xs, xlabel, key_of):
    """Speed-up over the direct copy against xs, one line per scenario
    and client, titled with both."""
    series = []
    for s in ("latency10", "latency"):
        for c in plan.CLIENTS:
            direct = med(s, c, "direct")
            if not direct:
                continue
            pts = [(i, med(s, c, key_of(x))) for i, x in enumerate(xs)]
            pts = [(i, direct / t) for i, t in pts if t]
            if pts:
                series.append((f"{plan.SHORT[s]} per request, "
                               f"{CLIENT_TITLE[c]}", pts))
    if not series:
        return None
    dat = os.path.join(out_dir, f"{name}.dat")
    with open(dat, "w") as f:
        for title, pts in series:
            f.write(f"# {title}\n")
            for i, t in pts:
                f.write(f"{i} {t}\n")
            f.write("\n\n")
    png = os.path.join(out_dir, f"{name}.png")
    tics = ", ".join(f'"{x}" {i}' for i, x in enumerate(xs))
    plots = ", ".join(f"'{dat}' index {n} with linespoints title '{t}'"
                      for n, (t, _) in enumerate(series))
    script = f"""
set terminal pngcairo size 960,560
set output '{png}'
set title 'multicopy: speed-up over the same copy straight to the destination'
set xlabel '{xlabel}'
set ylabel 'direct time / multicopy time (medians)'
set xtics ({tics})
set yrange [0:*]
set key outside right
set grid
plot {plots}
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    os.unlink(dat)
    return os.path.basename(png)


def notes(cpu, dst, cross):
    """What the figures say, from the figures."""
    out = []
    for s in ("latency10", "latency"):
        for c in plan.CLIENTS:
            b = best(s, c)
            d = ratio(s, c, "direct", "mc-default")
            if not b or not d:
                continue
            bc, bs, bx = b
            line = (f"* {plan.SHORT[s]} per request, {CLIENT_TITLE[c]}: the "
                    f"defaults (connections={CONNS}, segment-size={SEG}, "
                    f"or {SEG_FAR}) give {d:.2f}x; the fastest of the grid is "
                    f"connections={bc}, segment-size={bs}, {bx:.2f}x")
            if s == "latency":
                h = hidden(c)
                if h is not None:
                    line += f"; the defaults hide {h:.0%} of the delay"
            out.append(line + ".")
            cl = ceiling(s, c)
            if cl:
                out.append("  " + cl)
    for c in ("qemu-img-m8", "nbdcopy"):
        for cfg in ("mc-c1", "mc-default", "mc-default-unlimited",
                    "mc-default-noreplay", "mc-c16-s8M", "mc-c64", "direct"):
            r = ratio("cpu", c, cfg, "nbd-plugin")
            if r:
                out.append(f"* CPU-bound, {CLIENT_TITLE[c]}: {cfg} takes "
                           f"{r:.2f} times what the nbd plugin takes.")
    for c in plan.CLIENTS:
        got = {n: dst.get(("cpu", c, n))
               for n in ("nbd-plugin", "mc-c1", "mc-default", "mc-c64")}
        if all(got.values()):
            out.append(f"* CPU-bound, {CLIENT_TITLE[c]}: the destination "
                       f"spends {got['nbd-plugin']:.0f} ms per GiB behind "
                       f"the nbd plugin, {got['mc-c1']:.0f} behind "
                       f"multicopy with one connection, "
                       f"{got['mc-default']:.0f} with the defaults "
                       f"({NEAR_CONNS} connections: a near multi-conn "
                       f"upstream) and "
                       f"{got['mc-c64']:.0f} with 64.")
    for c in ("qemu-img-m8", "nbdcopy"):
        a = cpu.get(("cpu", c, "mc-default"))
        b = cpu.get(("cpu", c, "mc-default-sockbuf0"))
        n = cpu.get(("cpu", c, "nbd-plugin"))
        if a and b and n:
            out.append(f"* Proxy CPU per GiB, CPU-bound, {CLIENT_TITLE[c]}: "
                       f"multicopy {a:.0f} ms with 4 MiB socket buffers, "
                       f"{b:.0f} ms with the system's, the nbd plugin "
                       f"{n:.0f} ms.")
    if cross:
        for c, t in cross.items():
            st = t["stripes"]
            out.append(f"* {CLIENT_TITLE[c]} sends writes of "
                       f"{t['mean_write_bytes'] >> 10}K on average; "
                       + ", ".join(f"{st[str(s)]['crossing']:.0%} of its "
                                   f"requests cross a {n} boundary"
                                   for s, n in ((1 << 20, "1M"),
                                                (2 << 20, "2M"),
                                                (4 << 20, "4M"))
                                   if str(s) in st) + ".")
    return "\n".join(out)


def main():
    global PREFIX
    targets, met = targets_table()
    if mode == "quick":
        print()
        print(f"bench-quick: defaults connections={CONNS} "
              f"({NEAR_CONNS} near with multi-conn) "
              f"segment-size={SEG}; {met} of {len(TARGETS)} targets met")
        print(targets)
        cl = ceiling("latency10", "qemu-img-m8")
        if cl:
            print(f"10 ms, qemu-img -m 8: {cl}")
        if any(n.startswith("base:") for runs in DATA.values() for n in runs):
            PREFIX = "base:"
            targets, met = targets_table()
            print()
            print(f"the baseline build, in the same run: {met} of "
                  f"{len(TARGETS)} targets met")
            print(targets)
        return
    cpu, cpu_data = cpu_table()
    cpu_bound, dst_data = cpu_bound_table()
    cross, cross_data = crossings_table()
    conns = plot("bench-connections", plan.GRID_CONNS,
                 f"connections (segment-size={SEG})",
                 lambda x: f"mc-c{x}-s{SEG}")
    stripes = plot("bench-stripe", plan.GRID_SEGS,
                   f"segment-size (connections={CONNS})",
                   lambda x: f"mc-c{CONNS}-s{x}")
    md = ["# Benchmarks", "",
          "Generated by `make bench` (tests/bench/run.sh, plan.py, "
          "report.py): every figure and every sentence with a figure is "
          "written from this run's data.  `make bench-quick` measures "
          "the targets alone in a few minutes.  The machine:", "",
          "```", open(os.path.join(results_dir, "machine.txt")).read()
          .strip(), "```", "",
          "Each configuration starts fresh servers (hyperfine --prepare "
          "or paired.py, not timed; memory destinations are filled "
          "first so that their pages are mapped), copies the source, "
          "and the client's final "
          "flush is inside the time.  Times are medians over all runs of "
          "all rounds; rounds interleave the configurations, and the "
          "CPU-bound ones take turns run by run (see below).  "
          "`mc-default` is also one cell of the matrix, measured twice: "
          "the gap shows the noise.  On 2 cores the copy's own CPU cost "
          "is a floor no proxy hides, so at 2 ms the measure is the "
          "share of the delay hidden: (direct - multicopy) / (direct - "
          "the same copy with no delay).", "",
          "## Targets", "", targets, "",
          "## What the figures say", "",
          notes(cpu_data, dst_data, cross_data), ""]
    for s in ("latency10", "latency"):
        for c in plan.CLIENTS:
            m = matrix(s, c)
            if m:
                md += [f"## {plan.SHORT[s]} per request, {CLIENT_TITLE[c]}: "
                       "speed-up over direct", "", m, ""]
    if conns:
        md += ["## Against connections", "", f"![]({conns})", ""]
    if stripes:
        md += ["## Against segment-size", "", f"![]({stripes})", ""]
    if cross:
        md += ["## How often requests cross a stripe boundary", "",
               "Each client's copy into a log filter, no multicopy: the "
               "share of write and zero requests that cross a boundary at "
               "each stripe size (mean pieces per request).  A request cut "
               "in two waits for a round trip on two connections.", "",
               cross, ""]
    if cpu_bound:
        md += ["## CPU-bound: where the time goes", "",
               "The destination is fast, so the copy is bound by the CPU "
               "of all three processes on 2 cores.  Each configuration "
               "ran once per turn, in a new order each turn "
               "(tests/bench/paired.py); the time ratio is the median of "
               "the ratios turn by turn, which cancels the machine's "
               "drift.  CPU is user and system time per GiB of the "
               "source, from /proc: the proxy's at the end of each run, "
               "the destination server's since it started.  `mc-c1` is "
               "multicopy with one upstream connection: the hop alone; "
               f"`mc-default` keeps {NEAR_CONNS} connections here (the "
               "upstream is near and advertises multi-conn; so in the "
               "small-request and fsync-heavy scenarios), where the "
               "latency and capped-link scenarios keep "
               f"{CONNS} (no multi-conn; the capped link, near, with "
               f"stripes of {SEG_SINGLE}); "
               "`mc-default-unlimited` is the defaults with the in-flight "
               "limit off (max-in-flight=65536); `mc-default-noreplay` "
               "the defaults without the replay log (replay-buffer=0): "
               "what the log's copy of every write costs.",
               "", cpu_bound, ""]
    if cpu:
        md += ["## The proxy's CPU", "",
               "User and system time of the proxy process, per GiB of "
               "the source, from /proc at the end of each run.", "", cpu,
               ""]
    for s, title in plan.SCENARIOS.items():
        for c, cmd in plan.CLIENTS.items():
            t = times_table(s, c)
            if t:
                md += [f"## {title}; `{cmd}`", "", t, ""]
    with open(os.path.join(out_dir, "benchmarks.md"), "w") as f:
        f.write("\n".join(md))
    print(f"report: wrote {os.path.join(out_dir, 'benchmarks.md')}")
    print(f"{met} of {len(TARGETS)} targets met")


main()
