#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# What make bench and make bench-quick time: scenarios, clients and the
# configurations of each, one place for run.sh and report.py.
#
#   plan.py MODE            lines "SCENARIO CLIENT CONFIG ROUTE CONNS SEG OPTS"
#                           (SEG and OPTS "-" for none)
import sys

SCENARIOS = {
    "latency10": "10 ms per request (reads and writes): nbdkit memory, "
                 "one request at a time per connection, no multi-conn (a "
                 "slow remote target)",
    "latency": "2 ms per request: the same",
    "floor": "no delay: the same destination without delay, what the "
             "copy costs besides latency",
    "cpu": "CPU-bound: qemu-nbd -e 128 on a qcow2 in /dev/shm",
    "small": "small requests: nbdkit memory with 16 threads, parallel, "
             "no delay (what each request costs the proxy)",
    "capped": "a link capped per connection: nbdkit file (a filled "
              "file in /dev/shm) behind the rate filter, "
              "connection-rate=200M (bits/s) with bursts of 0.1 s, no "
              "multi-conn (a WAN path, a throttled gateway)",
    "fsync": "a client that flushes after every write: nbdkit file on a "
             "raw file in /dev/shm",
    "unequal": "two servers of one file in /dev/shm (uri= twice), one "
               "plain, one with 50 ms writes (nbdkit's file plugin, the "
               "delay filter)",
}
SHORT = {"latency10": "10ms", "latency": "2ms", "floor": "no delay",
         "cpu": "CPU-bound", "small": "small requests",
         "capped": "capped link", "fsync": "fsync-heavy",
         "unequal": "unequal servers"}
CLIENTS = {
    "qemu-img-m8": "qemu-img convert -n -W -m 8",
    "qemu-img-m16": "qemu-img convert -n -W -m 16",
    "nbdcopy": "nbdcopy --flush",
    "fio-randwrite": "fio, 8 jobs x queue depth 16, 64K random writes "
                     "with verify",
    "fio-4k-1": "fio, 1 job x queue depth 32, 4K random writes",
    "fio-4k-4": "fio, 4 jobs x queue depth 32, 4K random writes",
    "fio-fsync": "fio, 4 jobs, 4K random writes, each followed by a "
                 "flush (fsync=1)",
}
# The clients of the small-request scenarios (no other scenario runs them).
SMALL_CLIENTS = ["fio-4k-1", "fio-4k-4", "fio-fsync"]
GRID_CONNS = [4, 8, 16]
GRID_SEGS = ["1M", "2M", "4M"]


def config(name):
    """ROUTE CONNS SEG OPTS of a configuration name."""
    if name == "direct":
        return ("direct", 1, "-", "-")
    if name == "nbd-plugin":
        return ("nbd", 1, "-", "-")
    # The client's own ceiling: direct, every request served at once.
    if name == "direct-parallel":
        return ("parallel", 1, "-", "-")
    if name == "filter-default":
        return ("filter", 0, "-", "-")
    if name == "mc-default":
        return ("multicopy", 0, "-", "-")
    if name == "mc-default-noreplay":
        return ("multicopy", 0, "-", "replay-buffer=0")
    if name == "mc-default-sockbuf0":
        return ("multicopy", 0, "-", "socket-buffer=0")
    # OPTS without a leading "-" are plugin parameters, not nbdkit's.
    if name == "mc-default-unlimited":
        return ("multicopy", 0, "-", "max-in-flight=65536")
    if name.endswith("-unlimited"):
        route, conns, seg, _ = config(name[:-len("-unlimited")])
        return (route, conns, seg, "max-in-flight=65536")
    # mc-cN or mc-cN-sSEG
    parts = name.split("-")
    conns = int(parts[1][1:])
    seg = parts[2][1:] if len(parts) > 2 else "-"
    return ("multicopy", conns, seg, "-")


def quick():
    yield "latency10", "qemu-img-m8", ["direct", "mc-default",
                                       "direct-parallel"]
    yield "latency10", "qemu-img-m16", ["direct", "mc-c16"]
    yield "latency10", "nbdcopy", ["direct", "mc-default"]
    yield "latency", "qemu-img-m8", ["direct", "mc-default"]
    yield "latency", "nbdcopy", ["direct", "mc-default"]
    yield "floor", "qemu-img-m8", ["direct"]
    yield "floor", "nbdcopy", ["direct"]
    yield "cpu", "qemu-img-m8", ["nbd-plugin", "mc-default", "mc-c64"]
    yield "cpu", "nbdcopy", ["nbd-plugin", "mc-c1", "mc-default", "mc-c64"]
    for c in ("fio-4k-1", "fio-4k-4"):
        yield "small", c, ["nbd-plugin", "mc-default"]
    yield "fsync", "fio-fsync", ["nbd-plugin", "mc-default", "filter-default"]
    for c in ("qemu-img-m8", "nbdcopy"):
        yield "capped", c, ["direct", "mc-default"]
    yield "unequal", "fio-randwrite", ["mc-c8-s64K", "mc-c8-s64K-unlimited"]


def full():
    grid = [f"mc-c{c}-s{s}" for c in GRID_CONNS for s in GRID_SEGS]
    for s in ("latency10", "latency"):
        for c in [c for c in CLIENTS if c not in SMALL_CLIENTS]:
            extra = ["mc-c16"] if c == "qemu-img-m16" else []
            # fio's 64K writes at 10 ms, and its reads to verify them,
            # take 10 to 80 s a run: the grid alone would be an hour.
            g = [] if (s, c) == ("latency10", "fio-randwrite") else grid
            ceiling = ["direct-parallel"] if c != "fio-randwrite" else []
            yield s, c, ["direct", "nbd-plugin", "mc-default"] + extra + \
                g + ["filter-default"] + ceiling
    big = [c for c in CLIENTS if c not in SMALL_CLIENTS]
    for c in big:
        yield "floor", c, ["direct", "nbd-plugin", "mc-default"]
    for c in ("fio-4k-1", "fio-4k-4"):
        yield "small", c, ["nbd-plugin", "mc-c1", "mc-default",
                           "mc-default-unlimited", "filter-default"]
    yield "fsync", "fio-fsync", ["nbd-plugin", "mc-c1", "mc-default",
                                 "filter-default"]
    for c in ("qemu-img-m8", "nbdcopy"):
        yield "capped", c, ["direct", "nbd-plugin", "mc-c4", "mc-default",
                            "mc-c64"]
    for c in big:
        yield "cpu", c, ["direct", "nbd-plugin", "mc-c1", "mc-c4",
                         "mc-default", "mc-c16-s8M", "mc-c64",
                         "mc-default-unlimited", "mc-default-sockbuf0",
                         "mc-default-noreplay",
                         "filter-default"]
    yield "unequal", "fio-randwrite", ["mc-c8-s64K", "mc-c8-s64K-unlimited"]


PLANS = {"quick": quick, "full": full}

if __name__ == "__main__":
    for scenario, client, names in PLANS[sys.argv[1]]():
        for n in names:
            route, conns, seg, opts = config(n)
            print(scenario, client, n, route, conns, seg, opts)
