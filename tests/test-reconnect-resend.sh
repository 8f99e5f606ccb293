#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# A connection cut after a flush: requests for its stripes wait for the
# reconnect and succeed, every byte intact, and the next flush is good.
source "$(dirname "$0")/functions.sh"
requires nbdsh python3

start_nbdkit up memory 16M
start_relay proxy up
start_multicopy mc proxy connections=4 segment-size=64K
CLIENT_TIMEOUT=60 client reconnect-resend.py "$(uri mc)" "${server_pid[proxy]}" \
  "$(sock proxy)"
grep -E 'upstream connection [0-9]: reconnected after' "$tmp/mc.log" ||
  fail "no reconnect was logged"
