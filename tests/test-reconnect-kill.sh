#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# The upstream killed and restarted in the middle of a copy: the copy
# either fails with a lost-writes report (and runs again to identical
# data), or succeeds with identical data and no writes lost.
source "$(dirname "$0")/functions.sh"
requires qemu-img nbdcopy python3

# nbdcopy --flush, not qemu-img: qemu-img convert (7.2) exits 0 even
# when its final flush fails, so it would report a copy as good that
# the plugin has said may not be.
truncate -s 64M "$tmp/dst.img"
make_source src 64
start_up_file ()
{
  rm -f "$(sock up)"
  # One request at a time per connection, 30ms each: the copy takes
  # a few seconds, so that the kill lands in its middle.
  start_nbdkit up --filter=noparallel --filter=delay file "$tmp/dst.img" \
    wdelay=30ms
}
start_up_file
start_multicopy mc up connections=4 segment-size=256K reconnect-timeout=30
nbdcopy --flush "$tmp/src.raw" "$(uri mc)" >"$tmp/client.out" 2>&1 &
client=$!
sleep 0.7
kill -0 $client 2>/dev/null ||
  fail "the copy finished before the upstream was killed"
kill_server up
sleep 0.5
start_up_file
copy_outcome $client "$tmp/dst.img"
grep -cE 'upstream connection [0-9]: reconnected' "$tmp/mc.log" |
  { read -r n; [ "$n" -ge 1 ] || fail "no reconnect logged"; echo "$n reconnects"; }
stop_server mc
