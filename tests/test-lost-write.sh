#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# A write acknowledged to one client and lost upstream before a flush
# covered it: the next flush and the next write of every client
# connected at the time fail with EIO, once each; a client that
# connects later is not told.  (With the replay log, a lost connection
# loses nothing: that case runs with replay-buffer=0 here, and with
# replay in test-replay.)
# Since multicopy advertises multi-conn, any flush answers for every
# acknowledged write.  The plugin with a lost connection and with a
# failed upstream flush, and the filter with a failed flush.
source "$(dirname "$0")/functions.sh"
requires nbdsh python3

echo "== plugin: an upstream flush fails and drops what it held"
start_nbdkit up "$wbcache" size=16M flush-fails-while="$tmp/fail"
start_multicopy mc up connections=4 segment-size=64K
client lost-write.py "$(uri mc)" "$(uri up)" 65536 flush-fails "$tmp/fail"
stop_server mc
stop_server up

echo "== plugin: an upstream connection is lost with unflushed writes"
start_nbdkit up "$wbcache" size=16M
start_server proxy "$(sock proxy)" \
  python3 "$top/tests/fixtures/cutproxy.py" "$(sock proxy)" "$(sock up)"
start_multicopy mc proxy connections=4 segment-size=64K replay-buffer=0
client lost-write.py "$(uri mc)" "$(uri up)" 65536 \
  cut "${server_pid[proxy]}" "$(sock proxy).cut"
grep -q 'reconnected after' "$tmp/mc.log" || fail "no reconnect was logged"
stop_server mc
stop_server proxy
stop_server up

echo "== filter: a context's flush fails and drops what it held"
start_nbdkit fl --filter="$filter" "$wbcache" size=16M \
  flush-fails-while="$tmp/fail" connections=4 segment-size=64K
# The filter's contexts are the upstream here: check through a client.
client lost-write.py "$(uri fl)" "$(uri fl)" 65536 flush-fails "$tmp/fail"
stop_server fl
