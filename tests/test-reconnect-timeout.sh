#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# An upstream that stays down: requests for the lost stripes fail with
# EIO after reconnect-timeout= seconds (the others keep working), and
# work again once it is back.
source "$(dirname "$0")/functions.sh"
requires nbdsh python3

start_nbdkit up memory 16M
start_relay proxy up
start_multicopy mc proxy connections=4 segment-size=64K reconnect-timeout=1
CLIENT_TIMEOUT=90 client reconnect-timeout.py "$(uri mc)" "${server_pid[proxy]}" \
  "$(sock proxy)"
grep -q 'still down after reconnect-timeout=1.000s' "$tmp/mc.log" ||
  fail "giving up was not logged"
