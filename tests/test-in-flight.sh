#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# max-in-flight, of the plugin and of the filter (over nbdkit's nbd
# plugin): how many pieces the upstream has in flight at once, over
# all connections, counted by a log filter in front of it.
#  - max-in-flight=2 is never exceeded.
#  - auto, in front of a server whose bandwidth is all it has (nbdkit's
#    rate filter, 200 Mbit/s over all connections, behind the log
#    filter so that the log sees what waits in it): more in flight only
#    queue there, so once settled the limit holds them to a handful,
#    where a limit of 1000 lets nbdcopy's whole window through (on
#    average over time in the later half of the copy: a moment's
#    burst while the limit probes for room is allowed).
#  - auto holds no small request (in-flight.h): 16 writes of 4K sent
#    at once (as many as nbdkit has threads) all reach a slow server
#    at once, where 16 of 64K do not (the limit starts at 4 per
#    connection).
#  - places are shared fairly: four clients that each keep 4 writes
#    waiting under max-in-flight=1 get about a quarter of the writes
#    each (the gate queues them in the order they came; before, a
#    few threads won every wake-up and a client could wait 30 s).
#  The copies stay byte for byte right.
source "$(dirname "$0")/functions.sh"
requires qemu-img nbdcopy python3 bc

# The server must stay the bottleneck: under valgrind the proxy is
# many times slower, so the server is slowed down with it, and the
# round trips are mostly valgrind's: there the copies are run for the
# checker, and auto's bound is not asserted.
mib=64 rate=200M
[ "${MULTICOPY_CHECK:-}" != valgrind ] || rate=40M
make_source src $mib

# copy NAME ROUTE PARAMS...: nbdcopy of src through multicopy (ROUTE
# plugin, or filter over nbdkit's nbd plugin) into a fresh rate-bound
# server logged to $tmp/NAME.upstream; MOST LATE go to
# $tmp/NAME.in-flight (stdout also has what stop_server says).
copy ()
{
  local name=$1 route=$2
  shift 2
  start_nbdkit "$name-up" --filter=log --filter=rate \
    memory ${mib}M rate=$rate burstiness=0.02 logfile="$tmp/$name.upstream"
  if [ "$route" = plugin ]; then
    start_multicopy "$name" "$name-up" connections=8 segment-size=1M "$@"
  else
    start_nbdkit "$name" --filter="$filter" nbd uri="$(uri "$name-up")" \
      connections=8 segment-size=1M "$@"
  fi
  nbdcopy_4 "$name-copy" "$(uri "$name")"
  qemu-img compare -q -f raw -F raw "$tmp/src.raw" "$(uri "$name")" ||
    fail "$name: the copy differs from the source"
  stop_server "$name"
  stop_server "$name-up"
  "$top/tests/log-check.py" in-flight "$tmp/$name.upstream" \
    >"$tmp/$name.in-flight"
}

for route in plugin filter; do
  echo "== $route"
  copy "$route-fixed" $route max-in-flight=2
  read -r most late typical <"$tmp/$route-fixed.in-flight"
  echo "max-in-flight=2: at most $most in flight"
  [ "$most" -le 2 ] || fail "max-in-flight=2, yet $most were in flight at once"
  [ "$most" -eq 2 ] || fail "max-in-flight=2 let only $most out at once"

  copy "$route-open" $route max-in-flight=1000
  read -r most late typical <"$tmp/$route-open.in-flight"
  echo "max-in-flight=1000: at most $most in flight, $late in the later" \
    "half, $typical on average then"
  [ "$(echo "$typical >= 12" | bc)" = 1 ] ||
    fail "without a limit only $typical were in flight: the check below means nothing"

  copy "$route-auto" $route
  read -r most late typical <"$tmp/$route-auto.in-flight"
  echo "auto: at most $most in flight, $late in the later half," \
    "$typical on average then"
  grep -q 'pieces in flight: adapting' "$tmp/$route-auto.log" ||
    fail "auto did not say that it adapts"
  if [ "${MULTICOPY_CHECK:-}" = valgrind ]; then
    echo "auto: the bound is not asserted under valgrind"
  elif [ "$(echo "$typical > 8" | bc)" = 1 ]; then
    fail "auto let $typical pieces queue at a server bound by its bandwidth"
  fi
done

# burst NAME ROUTE SIZE: 16 writes of SIZE at once through multicopy
# (2 connections, auto) into a server that holds each for 300 ms; the
# most at once there into $tmp/NAME.in-flight.
burst ()
{
  local name=$1 route=$2 size=$3
  start_nbdkit "$name-up" --filter=log --filter=delay \
    memory 16M wdelay=300ms logfile="$tmp/$name.upstream"
  if [ "$route" = plugin ]; then
    start_multicopy "$name" "$name-up" connections=2 segment-size=1M
  else
    start_nbdkit "$name" --filter="$filter" nbd uri="$(uri "$name-up")" \
      connections=2 segment-size=1M
  fi
  client burst.py "$(uri "$name")" 16 "$size"
  stop_server "$name"
  stop_server "$name-up"
  "$top/tests/log-check.py" in-flight "$tmp/$name.upstream" \
    >"$tmp/$name.in-flight"
}

for route in plugin filter; do
  echo "== $route: small requests under auto"
  burst "$route-4k" $route 4096
  read -r most late typical <"$tmp/$route-4k.in-flight"
  echo "16 writes of 4K: $most at once"
  [ "$most" -eq 16 ] || fail "$route: auto held back small writes: $most of 16 at once"
  burst "$route-64k" $route 65536
  read -r most late typical <"$tmp/$route-64k.in-flight"
  echo "16 writes of 64K: $most at once"
  [ "$most" -lt 16 ] || fail "$route: auto let all 16 writes of 64K out at once"
done

# fair NAME ROUTE: four clients keep 4 writes of 64K each in flight
# for 5 s through multicopy (4 connections, max-in-flight=1) into a
# server that holds each write for 100 ms; the writes each had
# acknowledged into $tmp/NAME.acked.
fair ()
{
  local name=$1 route=$2
  start_nbdkit "$name-up" --filter=delay memory 64M wdelay=100ms
  if [ "$route" = plugin ]; then
    start_multicopy "$name" "$name-up" connections=4 max-in-flight=1
  else
    start_nbdkit "$name" --filter="$filter" nbd uri="$(uri "$name-up")" \
      connections=4 max-in-flight=1
  fi
  client fair-share.py "$(uri "$name")" 4 4 5 >"$tmp/$name.acked"
  stop_server "$name"
  stop_server "$name-up"
}

for route in plugin filter; do
  echo "== $route: four clients share max-in-flight=1"
  fair "$route-fair" $route
  read -r -a acked <"$tmp/$route-fair.acked"
  total=0 least=${acked[0]} most=${acked[0]}
  for a in "${acked[@]}"; do
    total=$((total + a))
    [ "$a" -ge "$least" ] || least=$a
    [ "$a" -le "$most" ] || most=$a
  done
  echo "writes acknowledged per client: ${acked[*]}"
  [ "$total" -ge 16 ] || fail "$route: only $total writes in 5 s: the check means nothing"
  # In turns, a client is at most one round behind another, and a
  # round is its 4 writes; a little more for a client slow to resend.
  spread=$(( total / 8 > 4 ? total / 8 : 4 ))
  [ $((most - least)) -le "$spread" ] ||
    fail "$route: unfair shares ${acked[*]}: one client got $most, another $least"
done
