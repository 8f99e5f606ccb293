#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# How often a client's requests cross a stripe boundary, at each stripe
# size, from an nbdkit log filter file of one copy (the client straight
# to nbdkit, no multicopy in between).
#
#   crossings.py NAME=LOG... [--json OUT]
#
# Writes and zeroes count: they are what a copy sends.  A request cut
# into k pieces costs a round trip on each of k connections.
import json
import re
import sys

SIZES = [256 << 10, 512 << 10, 1 << 20, 2 << 20, 4 << 20, 8 << 20]
PAT = re.compile(r" (Write|Zero) id=\d+ offset=(0x[0-9a-f]+) count=(0x[0-9a-f]+)")


def requests(log):
    for line in open(log):
        m = PAT.search(line)
        if m:
            yield m.group(1), int(m.group(2), 16), int(m.group(3), 16)


def table(log):
    reqs = list(requests(log))
    out = {"requests": len(reqs),
           "writes": sum(1 for op, _, _ in reqs if op == "Write"),
           "mean_write_bytes":
               sum(n for op, _, n in reqs if op == "Write") //
               max(1, sum(1 for op, _, _ in reqs if op == "Write")),
           "stripes": {}}
    for s in SIZES:
        crossing = pieces = 0
        for _, off, n in reqs:
            k = (off + n - 1) // s - off // s + 1
            pieces += k
            crossing += k > 1
        out["stripes"][s] = {"crossing": crossing / max(1, len(reqs)),
                             "pieces_per_request": pieces / max(1, len(reqs))}
    return out


def size_name(s):
    return f"{s >> 20}M" if s >= 1 << 20 else f"{s >> 10}K"


if __name__ == "__main__":
    args, json_out = sys.argv[1:], None
    if "--json" in args:
        i = args.index("--json")
        json_out = args[i + 1]
        del args[i:i + 2]
    results = {}
    for a in args:
        name, log = a.split("=", 1)
        results[name] = table(log)
    if json_out:
        with open(json_out, "w") as f:
            json.dump(results, f, indent=1)
    print("| client | requests (writes, mean write) | " +
          " | ".join(size_name(s) for s in SIZES) + " |")
    print("|---|---|" + "---:|" * len(SIZES))
    for name, t in results.items():
        cells = [f"{t['stripes'][s]['crossing']:.0%} ({t['stripes'][s]['pieces_per_request']:.2f})"
                 for s in SIZES]
        print(f"| {name} | {t['requests']} ({t['writes']}, "
              f"{t['mean_write_bytes'] >> 10}K) | " + " | ".join(cells) + " |")
