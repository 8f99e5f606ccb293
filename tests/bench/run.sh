#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# make bench: time disk copies into two kinds of destination, directly,
# through nbdkit's nbd plugin and through multicopy (plugin and
# filter), side by side in one run with hyperfine; then write
# docs/benchmarks.md and its plots from the medians.
#
# Environment:
#   BENCH_MIB      source and destination size in MiB (default 512)
#   BENCH_ROUNDS   rounds over all configurations (default 2)
#   BENCH_RUNS     timed runs per configuration and round (default 3)
#   BENCH_ONLY     the scenarios to run (default "latency latency10 floor cpu")
#   BENCH_CLIENTS  "qemu-img nbdcopy" (default) or one of them
#   BENCH_OUT      where results go (default docs/)
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
export PATH=/usr/bin:/usr/sbin:/bin:/sbin:$PATH
export LC_ALL=C

mib=${BENCH_MIB:-512}
rounds=${BENCH_ROUNDS:-2}
runs=${BENCH_RUNS:-3}
scenarios=${BENCH_ONLY:-latency latency10 floor cpu}
clients=${BENCH_CLIENTS:-qemu-img nbdcopy}
out=${BENCH_OUT:-$top/docs}
servers=$top/tests/bench/servers.sh

# Source and destination live in /dev/shm so that no disk is timed.
export BENCH_DIR BENCH_SIZE=${mib}M
BENCH_DIR=$(mktemp -d /dev/shm/mc-bench.XXXXXX)
trap '"$servers" stop; rm -rf "$BENCH_DIR"' EXIT
results=$out/bench-results
rm -rf "$results"
mkdir -p "$results"

# The machine beside every figure.
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "cores: $(nproc)"
  echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
  echo "memory: $(free -g | awk '/^Mem:/ {print $2}') GiB"
  echo "kernel: $(uname -r)"
  echo "nbdkit: $(nbdkit --version | head -1)"
  echo "libnbd: $(nbdcopy --version | sed -n 's/^libnbd //p' | head -1)"
  echo "qemu: $(qemu-img --version | head -1)"
  echo "size: $mib MiB"
  echo "runs: $rounds rounds x $runs runs per configuration"
} > "$results/machine.txt"

echo "bench: making a ${mib} MiB source (60% data, 40% holes)"
"$top/tests/make-source.py" "$BENCH_DIR/src.raw" "$mib"
qemu-img convert -q -f raw -O qcow2 "$BENCH_DIR/src.raw" "$BENCH_DIR/src.qcow2"
# What servers.sh writes into a memory destination before each copy,
# so that its pages are mapped: all data, no zeroes.
head -c "${mib}M" /dev/urandom > "$BENCH_DIR/fill.raw"
client_uri="nbd+unix:///?socket=$BENCH_DIR/client.sock"

client_cmd ()
{
  case $1 in
    qemu-img) echo "qemu-img convert -n -W -m 8 -f qcow2 -O raw" \
                   "$BENCH_DIR/src.qcow2 '$client_uri'" ;;
    nbdcopy)  echo "nbdcopy --flush $BENCH_DIR/src.raw '$client_uri'" ;;
  esac
}

# Configurations as "name route connections segment-size"; an empty
# segment-size ("-") is the built-in default.  Connections are swept
# at the default stripe and stripes at 4 connections.
scaling=(
  "direct direct 1 -"
  "nbd-plugin nbd 1 -"
  "multicopy-c1 multicopy 1 -"
  "multicopy-c2 multicopy 2 -"
  "multicopy-c4 multicopy 4 -"
  "multicopy-c8 multicopy 8 -"
  "filter-c4 filter 4 -"
)
stripes=()
for seg in 256K 1M 2M 4M 16M 64M 128M; do
  stripes+=("multicopy-c4-s$seg multicopy 4 $seg")
done

# A copy through multicopy, checked byte for byte before anything is
# timed: a benchmark of a broken copy measures nothing.
verify ()
{
  local scenario=$1 client=$2
  "$servers" start "$scenario" multicopy 4
  eval "$(client_cmd "$client")" >/dev/null
  qemu-img compare -q -f raw -F raw "$BENCH_DIR/src.raw" \
    "nbd+unix:///?socket=$BENCH_DIR/dst.sock" || {
    echo "bench: $scenario/$client: the copy differs from the source" >&2
    exit 1
  }
  "$servers" stop
}

for scenario in $scenarios; do
  for client in $clients; do
    echo "bench: scenario $scenario, client $client"
    verify "$scenario" "$client"
    # The slow link only shows scaling: its stripe sweep would take
    # long and say what the 2ms one says.  The floor is a reference.
    case $scenario in
      latency10) configs=("${scaling[@]}") ;;
      floor) configs=("${scaling[0]}" "${scaling[1]}" "${scaling[4]}"
                      "${scaling[5]}") ;;
      *) configs=("${scaling[@]}" "${stripes[@]}") ;;
    esac
    args=()
    for c in "${configs[@]}"; do
      read -r name route conns seg <<<"$c"
      [ "$seg" = - ] && seg=
      args+=(-n "$name"
             --prepare "$servers start $scenario $route $conns $seg"
             "$(client_cmd "$client")")
    done
    # hyperfine times one configuration's runs back to back; rounds
    # interleave the configurations, so that a slow minute of this
    # (shared, noisy) machine does not land on one of them only.  The
    # source is in /dev/shm, so no warm-up run is needed.
    for round in $(seq "$rounds"); do
      hyperfine --style basic -r "$runs" \
        --cleanup "$servers stop" \
        --export-json "$results/$scenario-$client-r$round.json" "${args[@]}"
    done
  done
done

"$top/tests/bench/report.py" "$results" "$out"
