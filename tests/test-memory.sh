#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# Memory stays bounded under a flood of large writes from many clients.
# Without the replay log multicopy keeps no copy of the data: a
# request's buffer is nbdkit's, handed to libnbd as it is, and nbdkit
# reads at most --threads requests per client connection.  So with
# replay-buffer=0 the peak RSS of nbdkit with the plugin must stay
# under clients x threads x request size (plus a base), and close to
# that of nbdkit's own nbd plugin under the same flood.  The replay
# log adds at most replay-buffer= on top (the man page's bound), and
# no more than that over the same flood with replay off.  Peak RSS is
# VmHWM, read at the end of the flood.
source "$(dirname "$0")/functions.sh"
requires nbdcopy python3
[ -z "${MULTICOPY_CHECK:-}" ] || skip "RSS means nothing under $MULTICOPY_CHECK"

clients=4 threads=4 req=$((16 << 20)) per_client=256M
start_nbdkit up null 1G

# flood NAME: 4 clients at once, each writing 256M in 16M requests with
# 16 in flight; prints the proxy's peak RSS in MiB.
flood ()
{
  local name=$1 i pids=()
  for i in $(seq $clients); do
    nbdcopy --request-size=$req --requests=16 --connections=1 --flush \
      -- [ nbdkit random "$per_client" ] "$(uri "$name")" &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || fail "a client of $name failed"; done
  awk '/^VmHWM:/ { print int($2 / 1024) }' "/proc/${server_pid[$name]}/status"
}

start_nbdkit px --threads=$threads nbd uri="$(uri up)"
proxy_mib=$(flood px)
stop_server px

start_nbdkit mc --threads=$threads "$plugin" "$(uri up)" connections=4 \
  replay-buffer=0
mc_mib=$(flood mc)
stop_server mc

log_mib=256
start_nbdkit mcr --threads=$threads "$plugin" "$(uri up)" connections=4 \
  replay-buffer=${log_mib}M
mcr_mib=$(flood mcr)
stop_server mcr

bound=$(( clients * threads * (req >> 20) + 64 ))
echo "peak RSS: multicopy ${mc_mib} MiB (replay off), ${mcr_mib} MiB" \
     "(replay-buffer=${log_mib}M), nbd plugin ${proxy_mib} MiB," \
     "bound ${bound} MiB ($clients clients x $threads threads x 16M + 64M)"
[ "$mc_mib" -le "$bound" ] || fail "multicopy's RSS passed the bound"
[ "$mc_mib" -le $(( proxy_mib * 5 / 4 + 32 )) ] ||
  fail "multicopy holds much more memory than the nbd plugin"
[ "$mcr_mib" -le $(( bound + log_mib )) ] ||
  fail "with its replay log, multicopy's RSS passed the bound + replay-buffer"
[ "$mcr_mib" -le $(( mc_mib + log_mib + 32 )) ] ||
  fail "the replay log holds more than replay-buffer="
