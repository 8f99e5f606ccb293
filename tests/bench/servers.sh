#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# Start or stop the servers of one benchmark configuration.  Used as
# hyperfine's --prepare, so that every timed run copies into a fresh
# destination and only the copy itself is timed.
#
#   servers.sh start SCENARIO ROUTE [CONNECTIONS [SEGMENT-SIZE]]
#   servers.sh stop
#
# SCENARIO: latency  nbdkit memory, one request at a time per
#                    connection, 2ms per request (reads too, as on a
#                    network: multicopy times a read at startup to
#                    choose its stripe), no multi-conn
#           latency10  the same with 10ms, a slow remote link
#           floor    the same with no delay: what the path costs
#                    besides latency
#           cpu      qemu-nbd -e 128 writing a qcow2 in /dev/shm (room
#                    for connections=64, and for a check beside them)
#           small    nbdkit memory with 16 threads, parallel, no delay:
#                    what each request costs
#           capped   nbdkit file on a filled raw file in /dev/shm
#                    behind the rate filter, 200 Mbit/s per connection
#                    with bursts of 0.1 s, no multi-conn: a WAN path
#           fsync    nbdkit file on a raw file in /dev/shm, for a
#                    client that flushes after every write
#           unequal  two nbdkit file servers of one file in /dev/shm,
#                    the second with 50 ms per write (route multicopy
#                    only: uri= given twice)
# The memory destinations are filled once (untimed) before the copy:
# on a VM where first touches of memory are expensive, a fresh memory
# plugin spends more time faulting pages in than waiting, and the
# scenario would not be latency-bound.
# ROUTE:    direct | nbd (nbdkit's nbd plugin as a plain proxy) |
#           multicopy | filter (multicopy filter over the nbd plugin) |
#           parallel (direct, with the latency scenarios' upstream
#           serving every request at once: no proxy and no limit per
#           connection, the most any proxy could give the client)
# The client connects to $BENCH_DIR/client.sock.  $BENCH_SIZE is the
# destination size.  MULTICOPY_PLUGIN and MULTICOPY_FILTER name other
# builds to time (another commit, say) instead of this tree's;
# MULTICOPY_NBDKIT_OPTS adds nbdkit options (-D flags, say) before them;
# MULTICOPY_PARAMS adds parameters of the plugin (or the filter) after
# connections= and segment-size=.
set -euo pipefail

dir=${BENCH_DIR:?}
top=$(cd "$(dirname "$0")/../.." && pwd)
plugin=${MULTICOPY_PLUGIN:-$top/plugin/nbdkit-multicopy-plugin.so}
filter=${MULTICOPY_FILTER:-$top/filter/nbdkit-multicopy-filter.so}
export PATH=/usr/bin:/usr/sbin:/bin:/sbin:$PATH

# Running, and not a zombie: the servers are daemons reparented to
# init, which may reap them a second or two late.
running ()
{
  local state
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

stop_pid ()
{
  local pidfile=$1 pid i
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  rm -f "$pidfile"
  kill "$pid" 2>/dev/null || return 0
  for i in $(seq 300); do
    running "$pid" || return 0
    sleep 0.01
  done
  kill -9 "$pid" 2>/dev/null || true
}

wait_socket ()
{
  local i
  for i in $(seq 500); do [ -S "$1" ] && return 0; sleep 0.01; done
  echo "servers.sh: no socket $1" >&2
  exit 1
}

# The CPU time (user + system, ms) the proxy has used, appended to
# $dir/proxy-cpu as "LABEL MS" (BENCH_LABEL, given to start): the cost
# of the hop, steadier than the wall time on a noisy machine.  The
# destination's, in $dir/dst-cpu, says what the upstream server pays
# for the way requests reach it (how many connections, say); it counts
# from the server's start, so it includes the fill of a memory
# destination and means most in the CPU-bound scenario.
record_cpu ()
{
  local who pid ticks
  [ -s "$dir/label" ] || return 0
  for who in proxy dst; do
    [ -f "$dir/$who.pid" ] || continue
    pid=$(cat "$dir/$who.pid")
    ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null) ||
      continue
    echo "$(cat "$dir/label") $(( ticks * 1000 / $(getconf CLK_TCK) ))" \
      >>"$dir/$who-cpu"
  done
}

stop ()
{
  record_cpu
  rm -f "$dir/label"
  # The proxy first: nbdkit waits for its clients to leave.
  stop_pid "$dir/proxy.pid"
  stop_pid "$dir/dst.pid"
  stop_pid "$dir/dst2.pid"
  rm -f "$dir"/*.sock /dev/shm/mc-bench-dst.qcow2 /dev/shm/mc-bench-dst.raw
}

start ()
{
  local scenario=$1 route=$2 conns=${3:-0} seg=${4:-}
  local dst="nbd+unix:///?socket=$dir/dst.sock"
  # No connections (0) or segment-size: measure the built-in defaults.
  local params=()
  [ "$conns" = 0 ] || params+=(connections="$conns")
  [ -z "$seg" ] || params+=(segment-size="$seg")

  stop
  echo "${BENCH_LABEL:-}" >"$dir/label.next"
  case $scenario in
    latency|latency10|floor)
      local delay=2ms
      [ "$scenario" = latency10 ] && delay=10ms
      [ "$scenario" = floor ] && delay=0
      local one_at_a_time=--filter=noparallel
      [ "$route" != parallel ] || one_at_a_time=
      nbdkit -U "$dir/dst.sock" -P "$dir/dst.pid" \
        --filter=multi-conn $one_at_a_time --filter=delay \
        memory "$BENCH_SIZE" multi-conn-mode=disable wdelay="$delay" \
        rdelay="$delay" ;;
    cpu)
      qemu-img create -q -f qcow2 /dev/shm/mc-bench-dst.qcow2 "$BENCH_SIZE"
      qemu-nbd -t -e 128 -f qcow2 -k "$dir/dst.sock" \
        --pid-file="$dir/dst.pid" --fork /dev/shm/mc-bench-dst.qcow2 ;;
    small)
      nbdkit -U "$dir/dst.sock" -P "$dir/dst.pid" --threads 16 \
        memory "$BENCH_SIZE" ;;
    capped)
      # The rate filter's default burst (2 s, 50 MB at this rate) let
      # each of 16 connections send a whole copy's share unthrottled,
      # and a fresh memory plugin spent the copy faulting pages in:
      # what was timed was neither the cap nor the copy.  A file whose
      # pages exist, and bursts of 0.1 s, time the cap.
      cp "$dir/fill.raw" /dev/shm/mc-bench-dst.raw
      nbdkit -U "$dir/dst.sock" -P "$dir/dst.pid" \
        --filter=multi-conn --filter=rate file /dev/shm/mc-bench-dst.raw \
        multi-conn-mode=disable connection-rate=200M burstiness=0.1 ;;
    fsync)
      truncate -s "$BENCH_SIZE" /dev/shm/mc-bench-dst.raw
      nbdkit -U "$dir/dst.sock" -P "$dir/dst.pid" \
        file /dev/shm/mc-bench-dst.raw ;;
    unequal)
      truncate -s "$BENCH_SIZE" /dev/shm/mc-bench-dst.raw
      nbdkit -U "$dir/dst.sock" -P "$dir/dst.pid" \
        file /dev/shm/mc-bench-dst.raw
      nbdkit -U "$dir/dst2.sock" -P "$dir/dst2.pid" --filter=delay \
        file /dev/shm/mc-bench-dst.raw wdelay=50ms
      wait_socket "$dir/dst2.sock"
      params+=("nbd+unix:///?socket=$dir/dst2.sock") ;;
    *) echo "servers.sh: unknown scenario $scenario" >&2; exit 1 ;;
  esac
  wait_socket "$dir/dst.sock"
  # Fill the delayed memory destinations, in 32M requests (the NBD
  # maximum): 16 delays for 512M.  (A capped link would take longer to
  # fill than to time.)
  case $scenario in
    latency|latency10|floor)
      nbdcopy --request-size=$((32 << 20)) "$dir/fill.raw" "$dst" ;;
  esac

  case $route in
    direct|parallel)
      ln -s "$dir/dst.sock" "$dir/client.sock" ;;
    nbd)
      nbdkit -U "$dir/client.sock" -P "$dir/proxy.pid" nbd uri="$dst" ;;
    multicopy)
      nbdkit -U "$dir/client.sock" -P "$dir/proxy.pid" \
        ${MULTICOPY_NBDKIT_OPTS:-} "$plugin" "$dst" "${params[@]}" \
        ${MULTICOPY_PARAMS:-} ;;
    filter)
      nbdkit -U "$dir/client.sock" -P "$dir/proxy.pid" \
        --filter="$filter" nbd uri="$dst" \
        "${params[@]}" ${MULTICOPY_PARAMS:-} 2>/dev/null ;;
    *) echo "servers.sh: unknown route $route" >&2; exit 1 ;;
  esac
  wait_socket "$dir/client.sock"
  mv "$dir/label.next" "$dir/label"
}

case ${1:-} in
  start) shift; start "$@" ;;
  stop) stop ;;
  *) echo "usage: servers.sh start SCENARIO ROUTE [CONNS SEG] | stop" >&2
     exit 2 ;;
esac
