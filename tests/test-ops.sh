#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# Every operation through multicopy (3 connections, 64K stripes, odd
# offsets) against nbdkit memory without multi-conn, behind the log
# filter: data and flags arrive as sent, each piece within one stripe,
# each stripe on one connection; extents are clipped at the stripe;
# the filter answers the same; nbdkit -r serves read-only.
source "$(dirname "$0")/functions.sh"
requires nbdsh python3

seg=65536
start_nbdkit up --filter=log --filter=multi-conn memory 16M \
  multi-conn-mode=disable logfile="$tmp/up.trace"
start_multicopy mc up connections=3 segment-size=64K
MC=$(uri mc) UP=$(uri up)

client ops.py "$MC" "$seg"

"$top/tests/log-check.py" ownership "$tmp/up.trace" "$seg" 3

# The log shows the flags as sent.
client ops-log.py "$tmp/up.trace" "$seg"

# The same operations through the filter, over nbdkit memory.
start_nbdkit fl --filter="$filter" memory 16M connections=3 segment-size=64K
client ops.py "$(uri fl)" "$seg"

# Read-only: nbdkit -r refuses writes, still reads.
stop_server mc
start_nbdkit ro -r "$plugin" "$UP" connections=2
nbdsh -u "$(uri ro)" -c '
assert h.is_read_only()
assert len(h.pread(100000, 12345)) == 100000
try:
    h.pwrite(b"x", 0)
    raise SystemExit("write accepted on a read-only export")
except nbd.Error as e:
    print("read-only refuses writes:", e.string)
'
