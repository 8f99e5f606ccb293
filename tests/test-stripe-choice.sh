#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# Without segment-size= the plugin times a few reads at startup and
# chooses its stripe from the upstream's round trip (stripe-choice.h);
# without connections=, a near upstream that advertises multi-conn
# keeps 4 of the 16 connections:
#  - a far upstream (20 ms a request): 1 MiB stripes, said on the
#    startup line; a 2 MiB write reaches it as two 1 MiB writes on two
#    connections, and the data is right;
#  - segment-size= always wins, and the line says it was asked for;
#  - a near upstream (this host, no delay) that advertises multi-conn:
#    the default 2 MiB;
#  - a near upstream whose first read on each connection takes 20 ms
#    (a server starting a thread for it): still near, 2 MiB;
#  - a near upstream without multi-conn: 512 KiB stripes, a 2 MiB write
#    reaches it as four writes on four connections, the data is right;
#  - an upstream whose reads take 3 s: startup does not wait for them
#    past 2 s, keeps the default and says why; writes work;
#  - connections not given: a near multi-conn upstream keeps 4 (said on
#    the startup line, 4 connections in the stats, the data right); kept
#    all 16: with connections=16, without multi-conn, far, and with two
#    servers.
source "$(dirname "$0")/functions.sh"
requires nbdsh

# write_2m NAME: 2 MiB of a pattern at offset 0 through the multicopy
# server NAME.
write_2m ()
{
  nbdsh -u "$(uri "$1")" -c 'h.pwrite(b"multicopy" * 233016 + b"01234567", 0)'
}

# writes_of NAME BYTES: how many writes of BYTES the upstream's log
# ($tmp/NAME.upstream) saw.
writes_of ()
{
  grep -c "Write .* count=$(printf '0x%x' "$2") " "$tmp/$1.upstream" || true
}

# stored_is_pattern NAME: the upstream NAME holds the pattern at 0.
stored_is_pattern ()
{
  nbdsh -u "$(uri "$1")" -c '
assert h.pread(2097152, 0) == b"multicopy" * 233016 + b"01234567"'
}

# near_is_measured NAME: whether the round trip the multicopy server
# timed against the upstream NAME is that upstream's; under a checker
# (valgrind, a sanitizer) it is the checker's, and this says so.
near_is_measured ()
{
  [ -z "${MULTICOPY_CHECK:-}" ] && return 0
  echo "$1: under ${MULTICOPY_CHECK} the round trip is the checker's"
  return 1
}

echo "== a far upstream: 20 ms a request"
start_nbdkit far --filter=log --filter=delay memory 64M rdelay=20ms \
  wdelay=20ms logfile="$tmp/far.upstream"
start_multicopy mc far connections=4
grep 'stripes of' "$tmp/mc.log"
grep -q 'stripes of 1048576 bytes (chosen: the upstream.s round trip is' \
  "$tmp/mc.log" || fail "1 MiB stripes were not chosen for a far upstream"
write_2m mc
stop_server mc
[ "$(writes_of far 1048576)" -eq 2 ] && [ "$(writes_of far 2097152)" -eq 0 ] ||
  fail "the 2 MiB write did not go out as two stripes of 1 MiB: $(grep Write "$tmp/far.upstream")"
stored_is_pattern far || fail "the far upstream holds other data"

echo "== segment-size= wins"
start_multicopy mc far connections=4 segment-size=2M
grep 'stripes of' "$tmp/mc.log"
grep -q 'stripes of 2097152 bytes (as segment-size= asks)' "$tmp/mc.log" ||
  fail "segment-size=2M did not win over the round trip"
stop_server mc
stop_server far

echo "== a near upstream"
start_nbdkit near memory 64M
start_multicopy mc near connections=4
grep 'stripes of' "$tmp/mc.log"
if near_is_measured near; then
  grep -q 'stripes of 2097152 bytes (the default: the upstream.s round trip is .*, under 1 ms)' \
    "$tmp/mc.log" || fail "the default was not kept for a near upstream"
fi
stop_server mc
stop_server near

echo "== a near upstream, slow to answer a connection's first read"
start_nbdkit slowfirst "$wbcache" size=64M first-read-delay=20 \
  multi-conn=true
start_multicopy mc slowfirst connections=4
grep 'stripes of' "$tmp/mc.log"
if near_is_measured slowfirst; then
  grep -q 'stripes of 2097152 bytes (the default: the upstream.s round trip is .*, under 1 ms)' \
    "$tmp/mc.log" || fail "first reads that wait for a thread made a near upstream look far"
fi
stop_server mc
stop_server slowfirst

echo "== a near upstream without multi-conn"
start_nbdkit nearsingle --filter=log --filter=multi-conn memory 64M \
  multi-conn-mode=disable logfile="$tmp/nearsingle.upstream"
start_multicopy mc nearsingle connections=4
grep 'stripes of' "$tmp/mc.log"
if near_is_measured nearsingle; then
  grep -q 'stripes of 524288 bytes (chosen: the upstream.s round trip is .*, under 1 ms, and it does not advertise multi-conn)' \
    "$tmp/mc.log" || fail "512 KiB stripes were not chosen for a near upstream without multi-conn"
  write_2m mc
  stop_server mc
  [ "$(writes_of nearsingle 524288)" -eq 4 ] &&
    [ "$(grep -c ' Write ' "$tmp/nearsingle.upstream")" -eq 4 ] ||
    fail "the 2 MiB write did not go out as four stripes of 512 KiB: $(grep Write "$tmp/nearsingle.upstream")"
  [ "$(grep ' Write ' "$tmp/nearsingle.upstream" | sed 's/.*connection=\([0-9]*\) .*/\1/' | sort -u | wc -l)" -eq 4 ] ||
    fail "the four stripes did not go out on four connections"
  stored_is_pattern nearsingle || fail "the near upstream without multi-conn holds other data"
fi
stop_server mc
stop_server nearsingle

echo "== an upstream whose reads take 3 s"
start_nbdkit slow --filter=delay memory 64M rdelay=3000ms
start=$(date +%s)
start_multicopy mc slow connections=4
grep 'stripes of' "$tmp/mc.log"
grep -q 'stripes of 2097152 bytes (the default: a read to time the upstream.s round trip failed or took over 2000 ms)' \
  "$tmp/mc.log" || fail "a probe that timed out did not keep the default"
write_2m mc
stop_server mc
echo "up and written in $(( $(date +%s) - start )) s"
stop_server slow

# up_conns NAME: how many upstream connections the startup line of the
# multicopy server NAME says are up.
up_conns ()
{
  sed -n 's/.*multicopy: \([0-9]*\) upstream connections\{0,1\} up.*/\1/p' \
    "$tmp/$1.log" | head -1
}

echo "== connections not given: a near multi-conn upstream keeps 4"
start_nbdkit nearmc memory 64M
start_multicopy mc nearmc stats="$tmp/mc.stats"
grep 'stripes of' "$tmp/mc.log"
if near_is_measured nearmc; then
  grep -q '4 upstream connections up (4 of the 16: the upstream is near, its round trip under 1 ms, and advertises multi-conn' \
    "$tmp/mc.log" || fail "a near multi-conn upstream did not keep 4 connections"
  write_2m mc
  # The stats file is written each second.
  sleep 1.5
  [ "$(grep -c '^connection=' "$tmp/mc.stats")" -eq 4 ] ||
    fail "the stats do not show 4 connections: $(cat "$tmp/mc.stats")"
  stored_is_pattern nearmc || fail "the near multi-conn upstream holds other data"
fi
stop_server mc

echo "== connections=16 given: all kept"
start_multicopy mc nearmc connections=16
grep 'stripes of' "$tmp/mc.log"
[ "$(up_conns mc)" = 16 ] || fail "connections=16 did not keep 16"
stop_server mc
echo "== two servers: all kept"
start_nbdkit nearmc2 memory 64M
start_nbdkit mc "$plugin" uri="$(uri nearmc)" uri="$(uri nearmc2)"
grep 'stripes of' "$tmp/mc.log"
[ "$(up_conns mc)" = 16 ] || fail "two servers did not keep 16 connections"
stop_server mc
stop_server nearmc2
stop_server nearmc

echo "== connections not given: near without multi-conn, and far, keep 16"
start_nbdkit nearsingle --filter=multi-conn memory 64M multi-conn-mode=disable
start_multicopy mc nearsingle
grep 'stripes of' "$tmp/mc.log"
[ "$(up_conns mc)" = 16 ] || fail "an upstream without multi-conn did not keep 16"
stop_server mc
stop_server nearsingle
start_nbdkit farmc --filter=delay memory 64M rdelay=20ms
start_multicopy mc farmc
grep 'stripes of' "$tmp/mc.log"
[ "$(up_conns mc)" = 16 ] || fail "a far multi-conn upstream did not keep 16"
stop_server mc
stop_server farmc
