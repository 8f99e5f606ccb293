#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# The filter's one pool of contexts, shared by every client, over
# nbdkit's nbd plugin into the write-back-cache fixture (no multi-conn,
# a cache per connection): two clients see each other's writes and one
# flush covers both; multi-conn is advertised; each stripe goes through
# one upstream connection, every one carries writes and the flushes
# run in parallel; the last client out flushes what it left and closes
# every upstream connection.
source "$(dirname "$0")/functions.sh"
requires nbdsh python3

start_nbdkit up --filter=log "$wbcache" size=64M flush-delay=300 \
  logfile="$tmp/up.trace"
start_nbdkit fl --filter="$filter" nbd uri="$(uri up)" \
  connections=4 segment-size=64K
client filter-two-clients.py "$(uri fl)" "$(uri up)"
"$top/tests/log-check.py" ownership "$tmp/up.trace" 65536 4 4
"$top/tests/log-check.py" flushes "$tmp/up.trace" 4

# Every upstream connection, the filter's and the test's own, closes;
# the last Disconnect may be logged a moment after its client left.
for i in $(seq 50); do
  connects=$(grep -c ' Connect ' "$tmp/up.trace")
  disconnects=$(grep -c ' Disconnect ' "$tmp/up.trace")
  [ "$connects" -eq "$disconnects" ] && break
  sleep 0.1
done
[ "$connects" -eq "$disconnects" ] ||
  fail "$connects upstream connections, $disconnects disconnected"
echo "all $connects upstream connections closed with the last client"
