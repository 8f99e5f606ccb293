#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# One lost connection is one loss: every client connected at the time
# is told once (its next flush fails), a client that connected later
# is not told, and the log reports it once: after a write that failed
# while the connection was down, and after a flush that was in flight
# when it was cut (tests/py/loss-once.py).  Without the replay log
# (replay-buffer=0), under which a lost connection is a loss.
source "$(dirname "$0")/functions.sh"
requires python3

# once HOW UPSTREAM-ARGS...
once ()
{
  local how=$1 n
  shift
  start_nbdkit up "$wbcache" size=16M "$@"
  start_relay proxy up
  start_multicopy mc proxy connections=2 segment-size=64K reconnect-timeout=1 \
    replay-buffer=0
  CLIENT_TIMEOUT=90 client loss-once.py "$(uri mc)" "${server_pid[proxy]}" \
    "$(sock proxy)" "$how"
  stop_server mc
  stop_server proxy
  stop_server up
  n=$(grep -c 'was lost while it held writes' "$tmp/mc.log") || true
  [ "$n" -eq 1 ] || fail "the loss was reported $n times"
  echo "$how: the loss was reported once"
}

echo "== a write fails while the connection is down"
once write
echo "== a flush is in flight when the connection is cut"
once flush flush-delay=1000
