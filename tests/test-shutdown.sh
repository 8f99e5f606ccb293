#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# SIGTERM ends nbdkit with the plugin within a few seconds, whatever the
# upstream does: stopped (SIGSTOP) with nothing to flush, or holding
# unflushed writes (which the log then names); gone, with a request
# waiting out a long reconnect-timeout=; accepting connections but
# never finishing a handshake, with a long connect-timeout=; or stopped
# with a request in flight.  Being stopped is not an error of the
# user's: the log never says that a sleep was aborted.
source "$(dirname "$0")/functions.sh"
requires nbdsh python3

# waiting_client STATEMENT: a client of mc that runs the Python
# STATEMENT (h is its handle) and prints whether it succeeded or
# failed, in $tmp/client.out; its pid in $client.  A second later the
# request must still be waiting.
waiting_client ()
{
  nbdsh -u "$(uri mc)" -c "
try:
    $1
    print('succeeded')
except nbd.Error as e:
    print('failed:', e.string)
" >"$tmp/client.out" 2>&1 &
  client=$!
  sleep 1
  kill -0 $client || fail "the request did not wait: $(cat "$tmp/client.out")"
}

# stop_mc SECONDS: stop mc within SECONDS, quietly.
stop_mc ()
{
  stop_server mc "$1"
  ! grep 'aborting sleep' "$tmp/mc.log" ||
    fail "nbdkit logged an aborted sleep as an error"
}

echo "== a stopped upstream, no client, nothing to flush"
start_nbdkit up memory 16M
start_multicopy mc up connections=4
nbdsh -u "$(uri mc)" -c 'h.pwrite(b"x" * 65536, 0); h.flush()'
kill -STOP "${server_pid[up]}"
stop_mc 8
kill -CONT "${server_pid[up]}"

echo "== a stopped upstream holding writes nobody flushed"
start_multicopy mc up connections=4 segment-size=64K shutdown-timeout=2
nbdsh -u "$(uri mc)" -c 'h.pwrite(b"y" * 65536, 65536)'  # connection 1
kill -STOP "${server_pid[up]}"
stop_mc 6
kill -CONT "${server_pid[up]}"
grep -E 'upstream connection 1: .*could not be flushed' "$tmp/mc.log" ||
  fail "the unflushed writes were not named in the log"
stop_server up

echo "== a gone upstream and a request waiting out reconnect-timeout=120"
start_nbdkit up memory 16M
start_multicopy mc up connections=2 segment-size=64K reconnect-timeout=120
kill_server up; rm -f "$(sock up)"
waiting_client 'h.pread(65536, 0)'
stop_mc 6
timeout 10 tail --pid=$client -f /dev/null || fail "the client hung"
grep -q '^failed:' "$tmp/client.out" ||
  fail "the waiting request did not fail: $(cat "$tmp/client.out")"

echo "== a reconnect stalled in a handshake, connect-timeout=60"
start_nbdkit up memory 16M
start_multicopy mc up connections=2 connect-timeout=60 reconnect-timeout=120
kill_server up; rm -f "$(sock up)"
# Accepts and never speaks: every handshake waits for connect-timeout.
start_server silent "$(sock up)" \
  python3 "$top/tests/fixtures/silent.py" "$(sock up)"
sleep 2
stop_mc 6
stop_server silent

echo "== a request in flight on a stopped upstream"
rm -f "$(sock up)"
start_nbdkit up memory 16M
start_multicopy mc up connections=2 shutdown-timeout=2
kill -STOP "${server_pid[up]}"
waiting_client 'h.pwrite(b"z" * 65536, 0)'
stop_mc 8
kill -CONT "${server_pid[up]}"
timeout 10 tail --pid=$client -f /dev/null || fail "the client hung"
echo "client: $(cat "$tmp/client.out")"
# The upstream never took the write: it must not be acknowledged.
grep -q '^failed:' "$tmp/client.out" ||
  fail "a write the upstream never took was acknowledged at exit"
stop_server up
