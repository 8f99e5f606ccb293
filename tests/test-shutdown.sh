#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# SIGTERM ends nbdkit with the plugin within a few seconds, whatever the
# upstream does: stopped (SIGSTOP) with nothing to flush, or holding
# unflushed writes (which the log then names); gone, with a request
# waiting out a long reconnect-timeout=; accepting connections but
# never finishing a handshake, with a long connect-timeout=; or stopped
# with a request in flight.
source "$(dirname "$0")/functions.sh"
requires nbdsh python3

# Under a checker everything is slower.
slack=$([ -n "${MULTICOPY_CHECK:-}" ] && echo 20 || echo 0)

# term_within NAME SECONDS: SIGTERM to NAME, which must exit in time.
term_within ()
{
  local name=$1 limit=$(( $2 + slack )) pid=${server_pid[$1]} start ms
  [ -z "${MULTICOPY_CHECK:-}" ] || wait_closed "$name"
  start=$(date +%s%N)
  kill -TERM "$pid"
  while kill -0 "$pid" 2>/dev/null; do
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    if [ $ms -gt $(( limit * 1000 )) ]; then
      checker_exit_deadlock "$pid" && break
      kill -9 "$pid"
      fail "$name still running ${limit}s after SIGTERM"
    fi
    sleep 0.1
  done
  wait "$pid" 2>/dev/null || true
  unset "server_pid[$name]"
  echo "$name exited $(( ($(date +%s%N) - start) / 1000000 ))ms after SIGTERM"
}

echo "== a stopped upstream, no client, nothing to flush"
start_nbdkit up memory 16M
start_multicopy mc up connections=4
nbdsh -u "$(uri mc)" -c 'h.pwrite(b"x" * 65536, 0); h.flush()'
kill -STOP "${server_pid[up]}"
term_within mc 8
kill -CONT "${server_pid[up]}"

echo "== a stopped upstream holding writes nobody flushed"
start_multicopy mc up connections=4 segment-size=64K shutdown-timeout=2
nbdsh -u "$(uri mc)" -c 'h.pwrite(b"y" * 65536, 65536)'  # connection 1
kill -STOP "${server_pid[up]}"
term_within mc 6
kill -CONT "${server_pid[up]}"
grep -E 'upstream connection 1: .*could not be flushed' "$tmp/mc.log" ||
  fail "the unflushed writes were not named in the log"
stop_server up

echo "== a gone upstream and a request waiting out reconnect-timeout=120"
start_nbdkit up memory 16M
start_multicopy mc up connections=2 segment-size=64K reconnect-timeout=120
kill -9 "${server_pid[up]}"; wait "${server_pid[up]}" 2>/dev/null || true
unset "server_pid[up]"; rm -f "$(sock up)"
nbdsh -u "$(uri mc)" -c '
try:
    h.pread(65536, 0)
    print("the read succeeded")
except nbd.Error as e:
    print("the read failed:", e.string)
' >"$tmp/client.out" 2>&1 &
client=$!
sleep 1
kill -0 $client || fail "the request did not wait: $(cat "$tmp/client.out")"
term_within mc 6
timeout 10 tail --pid=$client -f /dev/null || fail "the client hung"
grep -q 'the read failed' "$tmp/client.out" ||
  fail "the waiting request did not fail: $(cat "$tmp/client.out")"

echo "== a reconnect stalled in a handshake, connect-timeout=60"
start_nbdkit up memory 16M
start_multicopy mc up connections=2 connect-timeout=60 reconnect-timeout=120
kill -9 "${server_pid[up]}"; wait "${server_pid[up]}" 2>/dev/null || true
unset "server_pid[up]"; rm -f "$(sock up)"
# Accepts and never speaks: every handshake waits for connect-timeout.
start_server silent "$(sock up)" \
  python3 "$top/tests/fixtures/silent.py" "$(sock up)"
sleep 2
term_within mc 6
stop_server silent

echo "== a request in flight on a stopped upstream"
rm -f "$(sock up)"
start_nbdkit up memory 16M
start_multicopy mc up connections=2 shutdown-timeout=2
kill -STOP "${server_pid[up]}"
nbdsh -u "$(uri mc)" -c '
try:
    h.pwrite(b"z" * 65536, 0)
    print("the write succeeded")
except nbd.Error as e:
    print("the write failed:", e.string)
' >"$tmp/client.out" 2>&1 &
client=$!
sleep 1
kill -0 $client || fail "the request did not wait: $(cat "$tmp/client.out")"
term_within mc 8
kill -CONT "${server_pid[up]}"
timeout 10 tail --pid=$client -f /dev/null || fail "the client hung"
echo "client: $(cat "$tmp/client.out")"
stop_server up
