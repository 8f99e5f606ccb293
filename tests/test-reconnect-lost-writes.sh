#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# Without the replay log (replay-buffer=0): a connection cut while it
# held unflushed writes, over an upstream that really drops them (the
# wbcache fixture): the next flush fails with EIO, and only once, and
# the log names the connection.  (Every client
# connected at the time is told: test-lost-write.)
source "$(dirname "$0")/functions.sh"
requires nbdsh python3

start_nbdkit up "$wbcache" size=16M
start_relay proxy up
start_multicopy mc proxy connections=4 segment-size=64K replay-buffer=0
CLIENT_TIMEOUT=60 client reconnect-lost-writes.py "$(uri mc)" \
  "${server_pid[proxy]}" "$(sock proxy)"
grep -q 'was lost while it held writes that no flush had covered' \
  "$tmp/mc.log" || fail "the lost writes were not logged"
