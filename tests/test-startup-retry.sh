#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# Starting before the upstream is up: retry= (as in nbdkit-nbd-plugin)
# bounds how long the plugin keeps trying to reach it at startup, with
# backoff, saying so in the log; reconnect-timeout= is what retry= used
# to be (how long requests wait for a lost connection), and retry=
# alone still sets it too, with a deprecation warning.
source "$(dirname "$0")/functions.sh"
requires nbdsh nbdcopy python3 bc

# start_late NAME ARGS...: the plugin for an upstream socket that does
# not exist yet; it must still be waiting a while later.
start_late ()
{
  local name=$1
  shift
  "${nbdkit_cmd[@]}" -f -v -U "$(sock "$name")" "$plugin" \
    socket="$(sock up)" "$@" >"$tmp/$name.log" 2>&1 &
  track_pid "$name" $!
  sleep 2
  kill -0 "${server_pid[$name]}" || fail "$name gave up at once: $(cat "$tmp/$name.log")"
  [ ! -e "$(sock "$name")" ] || fail "$name serves without an upstream"
}

echo "== retry=30: waits for an upstream that comes up 2s later"
start_late mc retry=30 connections=4
grep -q 'cannot reach the upstream yet.*No such file or directory.*retry=30' \
  "$tmp/mc.log" || fail "the wait was not logged: $(cat "$tmp/mc.log")"
start_nbdkit up memory 16M
wait_ready mc "$(sock mc)" 10
nbdsh -u "$(uri mc)" -c '
h.pwrite(b"x" * 65536, 0)
h.flush()
assert h.pread(65536, 0) == b"x" * 65536
'
want=$(python3 -c '
import hashlib
print(hashlib.sha256(b"x" * 65536 + bytes((16 << 20) - 65536)).hexdigest())')
[ "$(nbd_sha256 "$(uri up)")" = "$want" ] ||
  fail "the write did not reach the upstream that came up late"
stop_server mc

echo "== the default also waits a while"
stop_server up
start_late mc2 connections=2
start_nbdkit up memory 16M
wait_ready mc2 "$(sock mc2)" 10
stop_server mc2

echo "== retry=1 and no upstream: refused after about a second"
start=$(date +%s%N)
rc=0
out=$(nbdkit_to_end -U - "$plugin" socket="$tmp/nowhere.sock" retry=1 \
        --run true) || rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "not refused (rc $rc): $out"
grep -q "cannot connect to the upstream.*No such file or directory" \
  <<<"$out" || fail "no reason given: $out"
grep -q "gave up after [0-9.]* s: retry=1.000s" <<<"$out" || fail "retry= not named: $out"
[ $ms -ge 900 ] && [ $ms -lt 8000 ] || fail "refused after ${ms}ms"
echo "refused after ${ms}ms: $(grep -m1 'gave up' <<<"$out")"

echo "== retry= alone still sets the reconnect timeout, and says so"
out=$(nbdkit_ok -U - "$plugin" "$(uri up)" retry=5 --run true)
grep -q 'warning: retry=5 also sets reconnect-timeout=5' <<<"$out" ||
  fail "no deprecation warning: $out"
out=$(nbdkit_ok -U - "$plugin" "$(uri up)" retry=5 reconnect-timeout=7 \
        --run true)
! grep -q 'warning: retry=' <<<"$out" ||
  fail "a warning although reconnect-timeout= was given: $out"
echo "deprecation warning only without reconnect-timeout="

echo "== retry=1 connect-timeout=3 against a server that never answers"
rm -f "$tmp/silent.sock"
start_server silent "$tmp/silent.sock" \
  python3 "$top/tests/fixtures/silent.py" "$tmp/silent.sock"
rc=0
out=$(nbdkit_to_end -U - "$plugin" socket="$tmp/silent.sock" retry=1 \
        connect-timeout=3 --run true) || rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "not refused (rc $rc): $out"
line=$(grep 'gave up' <<<"$out") || fail "no reason given: $out"
# It took one try of 3 s: the message must not say 1 s.
secs=$(sed -n 's/.*gave up after \([0-9.]*\) s.*/\1/p' <<<"$line")
[ -n "$secs" ] || fail "the time it took is not given: $line"
[ "$(echo "$secs >= 2.9" | bc)" = 1 ] || fail "it says $secs s: $line"
grep -q 'connect-timeout=3' <<<"$line" || fail "connect-timeout not named: $line"
echo "$line"
