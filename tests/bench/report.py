#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# report.py RESULTS-DIR OUT-DIR: turn hyperfine's JSON from run.sh into
# OUT-DIR/benchmarks.md (tables, targets) and two PNG plots.  The
# prose that explains the figures is tests/bench/notes.md, included
# as it stands: it is written by hand from a run of this script.
import json
import os
import statistics
import subprocess
import sys

results_dir, out_dir = sys.argv[1], sys.argv[2]
here = os.path.dirname(os.path.abspath(__file__))

SCENARIOS = {
    "latency": "1. latency-bound: nbdkit memory (filled before each "
               "copy), noparallel, delay wdelay=2ms, multi-conn disabled",
    "latency10": "1b. the same with wdelay=10ms (a slower link)",
    "floor": "1c. the same with no delay: what the copy costs besides "
             "latency",
    "cpu": "2. CPU-bound: qemu-nbd -e 16 on a qcow2 in /dev/shm",
}
CLIENTS = {
    "qemu-img": "qemu-img convert -n -W -m 8",
    "nbdcopy": "nbdcopy --flush",
}
STRIPES = ["256K", "1M", "2M", "4M", "16M", "64M", "128M"]


def load():
    """Every round's times of a configuration together, median of all."""
    data = {}
    for scenario in SCENARIOS:
        for client in CLIENTS:
            rows = {}
            round_no = 1
            while True:
                path = os.path.join(results_dir,
                                    f"{scenario}-{client}-r{round_no}.json")
                if not os.path.exists(path):
                    break
                with open(path) as f:
                    for r in json.load(f)["results"]:
                        rows.setdefault(r["command"], []).extend(r["times"])
                round_no += 1
            if rows:
                data[scenario, client] = {
                    name: {"times": times, "median": statistics.median(times)}
                    for name, times in rows.items()}
    return data


def median(data, scenario, client, name):
    r = data.get((scenario, client), {}).get(name)
    return r["median"] if r else None


def machine():
    path = os.path.join(results_dir, "machine.txt")
    with open(path) as f:
        return f.read().strip()


def table(rows, direct, proxy):
    out = ["| configuration | median s | min s | max s | direct / this "
           "| nbd plugin / this |",
           "|---|---:|---:|---:|---:|---:|"]
    for name, r in rows.items():
        t = r["median"]
        vs_proxy = f"{proxy / t:.2f}" if proxy else "-"
        out.append(f"| {name} | {t:.3f} | {min(r['times']):.3f} | "
                   f"{max(r['times']):.3f} | {direct / t:.2f} | "
                   f"{vs_proxy} |")
    return "\n".join(out)


def targets(data):
    out = ["| target | measured | met |", "|---|---:|:-:|"]

    def row(text, value, ok):
        if value is None:
            out.append(f"| {text} | not run | |")
        else:
            out.append(f"| {text} | {value:.2f} | {'yes' if ok(value) else 'no'} |")

    def ratio(s, c, a, b):
        x, y = median(data, s, c, a), median(data, s, c, b)
        return x / y if x and y else None

    for c in CLIENTS:
        row(f"scenario 1, {c}: direct / multicopy c=4 >= 3.3",
            ratio("latency", c, "direct", "multicopy-c4"), lambda v: v >= 3.3)
    for c in CLIENTS:
        row(f"scenario 1b (10ms), {c}: direct / multicopy c=4 >= 3.3",
            ratio("latency10", c, "direct", "multicopy-c4"),
            lambda v: v >= 3.3)
    for c in CLIENTS:
        row(f"scenario 2, {c}: multicopy c=4 / direct <= 1.10",
            ratio("cpu", c, "multicopy-c4", "direct"), lambda v: v <= 1.10)
        row(f"scenario 2, {c}: multicopy c=4 / nbd plugin <= 1.00",
            ratio("cpu", c, "multicopy-c4", "nbd-plugin"), lambda v: v <= 1.0)
    for s in ("latency", "latency10"):
        for c in CLIENTS:
            row(f"scenario {s}, {c}: c=4 / c=8 >= 1.7",
                ratio(s, c, "multicopy-c4", "multicopy-c8"),
                lambda v: v >= 1.7)
    for s in ("latency", "latency10"):
        for c in CLIENTS:
            row(f"scenario {s}, {c}: filter c=4 / plugin c=4 <= 1.10",
                ratio(s, c, "filter-c4", "multicopy-c4"), lambda v: v <= 1.10)
    return "\n".join(out)


def ceilings(data):
    """The best ratio a proxy could reach in scenario 1 on this machine:
    direct with the delay, against the nbd plugin proxy without it (a
    proxy that hid all latency would still pay its own hop)."""
    out = ["| client | direct, 2ms | nbd plugin, no delay | best possible "
           "direct / proxy | multicopy c=4 reached |",
           "|---|---:|---:|---:|---:|"]
    for c in CLIENTS:
        d = median(data, "latency", c, "direct")
        f = median(data, "floor", c, "nbd-plugin")
        m = median(data, "latency", c, "multicopy-c4")
        if d and f and m:
            out.append(f"| {c} | {d:.3f} | {f:.3f} | {d / f:.2f} | "
                       f"{d / m:.2f} |")
    return "\n".join(out) if len(out) > 2 else None


def plot(data, name, xs, xlabel, key_of, ideal=False):
    """One line per scenario and client: speed-up over the direct copy
    (direct median / median) against xs."""
    series = []
    for s in SCENARIOS:
        for c in CLIENTS:
            direct = median(data, s, c, "direct")
            if direct is None:
                continue
            pts = [(i, median(data, s, c, key_of(x))) for i, x in enumerate(xs)]
            pts = [(i, direct / t) for i, t in pts if t is not None]
            if pts:
                series.append((f"{s} {c}", pts))
    if not series:
        return None
    if ideal:
        series.append(("N (ideal)", list(enumerate(xs))))
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
    if ideal:
        n = len(series) - 1
        plots = plots.replace(f"index {n} with linespoints",
                              f"index {n} with lines dashtype 2 lc 'gray'")
    script = f"""
set terminal pngcairo size 900,560
set output '{png}'
set xlabel '{xlabel}'
set ylabel 'speed-up over the direct copy (medians)'
set xtics ({tics})
set yrange [0:*]
set key outside right
set grid
plot {plots}
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    os.unlink(dat)
    return os.path.basename(png)


def main():
    data = load()
    conns = plot(data, "bench-connections", [1, 2, 4, 8],
                 "multicopy connections (default stripe)",
                 lambda x: f"multicopy-c{x}", ideal=True)
    stripes = plot(data, "bench-stripe", STRIPES,
                   "segment-size (connections=4)",
                   lambda x: f"multicopy-c4-s{x}")

    md = ["# Benchmarks", "",
          "Generated by `make bench` (tests/bench/run.sh, report.py); "
          "the text after the tables is tests/bench/notes.md.  Every "
          "figure below is from one run, on this machine:", "",
          "```", machine(), "```", "",
          "Each configuration starts fresh servers (hyperfine --prepare, "
          "not timed), copies the source, and the client's final flush "
          "is inside the time.  Times are medians over all runs of all "
          "rounds.  `multicopy-c4` and `multicopy-c4-s4M` are the same "
          "configuration (4M is the default) measured twice: the gap "
          "between them shows the noise of the run.", ""]
    md += ["## Targets", "", targets(data), ""]
    ceil = ceilings(data)
    if ceil:
        md += ["## What this machine allows in scenario 1", "",
               "Medians of this run.  A proxy that hid every delay would "
               "still cost its hop (one more process, two more socket "
               "copies per byte), as the nbd plugin does in scenario 1c.",
               "", ceil, ""]
    for s, title in SCENARIOS.items():
        for c, cmd in CLIENTS.items():
            rows = data.get((s, c))
            if not rows:
                continue
            direct = rows["direct"]["median"]
            proxy = rows["nbd-plugin"]["median"] if "nbd-plugin" in rows \
                else None
            md += [f"## Scenario {title}; client `{cmd}`", "",
                   table(rows, direct, proxy), ""]
    if conns:
        md += ["## Time against connections", "", f"![]({conns})", ""]
    if stripes:
        md += ["## Time against stripe size", "", f"![]({stripes})", ""]
    notes = os.path.join(here, "notes.md")
    if os.path.exists(notes):
        with open(notes) as f:
            md += [f.read().rstrip(), ""]
    with open(os.path.join(out_dir, "benchmarks.md"), "w") as f:
        f.write("\n".join(md))
    print(f"report: wrote {os.path.join(out_dir, 'benchmarks.md')}")


main()
