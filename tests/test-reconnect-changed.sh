#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# An upstream that comes back serving something else (another size,
# or able to do less than clients were told) is refused, and nothing
# is read through it; the same upstream coming back is taken.
source "$(dirname "$0")/functions.sh"
requires nbdsh

# Wait up to 20 s for the multicopy log to match a pattern.
wait_for_log ()
{
  local i
  for i in $(seq 200); do
    grep -qE "$2" "$tmp/$1.log" && return 0
    sleep 0.1
  done
  fail "the log never said /$2/"
}

start_nbdkit up memory 16M
start_multicopy mc up connections=2 reconnect-timeout=30
nbdsh -u "$(uri mc)" -c 'h.pwrite(b"a" * 4096, 0); h.flush()'

echo "== back with another size: refused"
kill_server up
rm -f "$(sock up)"
start_nbdkit up memory 32M
wait_for_log mc 'came back with an export of size 33554432, not 16777216: refusing it'

echo "== back read-only: refused"
kill_server up
rm -f "$(sock up)"
start_nbdkit up -r memory 16M
wait_for_log mc 'came back able to do less than before: refusing it'

echo "== back as it was: taken"
kill_server up
rm -f "$(sock up)"
start_nbdkit up memory 16M
wait_for_log mc 'upstream connection [01]: reconnected'
nbdsh -u "$(uri mc)" -c '
h.pwrite(b"b" * 4096, 8192)
assert h.pread(4096, 8192) == b"b" * 4096
assert h.pread(4096, 0) == bytes(4096)   # a new memory disk
'
stop_server mc
