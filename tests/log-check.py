#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# Checks on an nbdkit log filter file (logfile= of --filter=log).
#
#   log-check.py ownership LOG SEGMENT-SIZE WRITERS [OURS]
#       Every Read/Write/Zero/Trim/Cache/Extents piece lies within one
#       stripe and every stripe is served by one connection; exactly
#       WRITERS connections carried writes.  With OURS, only the first
#       OURS connections to connect are counted (later ones are the test
#       reading the upstream directly).
#   log-check.py flushes LOG N
#       The last flush of each of N connections overlapped in time with
#       all the others: they ran in parallel.
#   log-check.py in-flight LOG
#       Prints "MOST LATE TYPICAL": the most writes, zeroes and trims
#       that were ever in flight at once at the server; the most in the
#       later half of them (by start), when a limit that adapts has
#       settled; and how many were in flight then on average over time
#       (a moment's burst of a limit that probes for room aside).

import re
import sys
from datetime import datetime

PIECE = re.compile(r"connection=(\d+) (Write|Zero|Trim|Read|Cache|Extents) "
                   r"id=\d+ offset=(0x[0-9a-f]+) count=(0x[0-9a-f]+)")


def ownership(log, seg, writers, ours=None):
    owner, wrote, conns = {}, set(), []
    for line in open(log):
        m = re.search(r"connection=(\d+) Connect ", line)
        if m:
            conns.append(int(m.group(1)))
        m = PIECE.search(line)
        if not m:
            continue
        conn, op = int(m.group(1)), m.group(2)
        if ours is not None and conn not in conns[:ours]:
            continue
        off, count = int(m.group(3), 16), int(m.group(4), 16)
        first, last = off // seg, (off + count - 1) // seg
        if first != last:
            sys.exit(f"{op} {off:#x}+{count:#x} crosses a stripe boundary")
        if owner.setdefault(first, conn) != conn:
            sys.exit(f"stripe {first} served by connections "
                     f"{owner[first]} and {conn}")
        if op in ("Write", "Zero", "Trim"):
            wrote.add(conn)
    if len(wrote) != writers:
        sys.exit(f"writes on {len(wrote)} connections, want {writers}")
    print(f"ownership ok: {len(owner)} stripes, "
          f"writes on {len(wrote)} connections")


def stamp(line):
    return datetime.strptime(line[:26], "%Y-%m-%d %H:%M:%S.%f").timestamp()


def flushes(log, n):
    start, end = {}, {}
    for line in open(log):
        m = re.search(r"connection=(\d+) (\.\.\.)?Flush id=", line)
        if m:
            (end if m.group(2) else start)[int(m.group(1))] = stamp(line)
    if len(end) != n:
        sys.exit(f"flushes on {len(end)} connections, want {n}")
    latest_start, earliest_end = max(start.values()), min(end.values())
    if latest_start >= earliest_end:
        sys.exit("flushes ran one after another, not in parallel")
    print(f"{n} flushes overlapped for {earliest_end - latest_start:.3f}s")


def in_flight(log):
    starts, events = 0, []
    for line in open(log):
        m = re.search(r"connection=(\d+) (\.\.\.)?(Write|Zero|Trim) id=(\d+)",
                      line)
        if m:
            done = m.group(2) is not None
            events.append((stamp(line), done))
            starts += not done
    if starts == 0:
        sys.exit("no writes in the log")
    now = most = late = seen = 0
    late_since = last = None
    weighted = 0.0
    for t, done in events:
        if late_since is not None:
            weighted += now * (t - last)
        last = t
        if done:
            now -= 1
            continue
        now += 1
        seen += 1
        most = max(most, now)
        if seen > starts // 2:
            late = max(late, now)
            if late_since is None:
                late_since = t
    span = last - late_since if late_since is not None else 0
    typical = weighted / span if span > 0 else now
    print(most, late, f"{typical:.1f}")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "ownership":
        ownership(args[0], int(args[1]), int(args[2]),
                  int(args[3]) if len(args) > 3 else None)
    elif cmd == "flushes":
        flushes(args[0], int(args[1]))
    elif cmd == "in-flight":
        in_flight(args[0])
    else:
        sys.exit(f"unknown check {cmd}")
