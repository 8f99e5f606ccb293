#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# make demo: what multicopy does with its defaults, in about a minute.
#  1. qemu-img convert and nbdcopy into a slow destination that serves
#     one request at a time per connection and does not advertise
#     multi-conn (a remote target), straight and through multicopy;
#  2. what each upstream connection carried (the stats file);
#  3. a copy during which every upstream connection is cut, into a
#     destination that drops what a connection did not flush (a
#     server with a volatile cache): it finishes, identical.
# Every copy is verified byte for byte.  One table at the end.
#   DEMO_MIB (256), DEMO_DELAY (10ms per write), DEMO_CUT_MIB (64)
source "$(dirname "$0")/functions.sh"
requires qemu-img nbdcopy python3

mib=${DEMO_MIB:-256}
delay=${DEMO_DELAY:-10ms}
cut_mib=${DEMO_CUT_MIB:-64}
rows=()

ms_since () { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
secs () { printf '%d.%02d s' $(( $1 / 1000 )) $(( $1 % 1000 / 10 )); }

start_destination ()
{
  start_nbdkit dst --filter=multi-conn --filter=noparallel --filter=delay \
    memory "${mib}M" multi-conn-mode=disable wdelay="$delay"
}

# copy CLIENT TARGET-URI: the client's copy of the source; its time
# (ms) in $ms.
copy ()
{
  local t
  t=$(date +%s%N)
  case $1 in
    qemu-img) qemu-img convert -n -W -m 8 -f qcow2 -O raw \
                "$tmp/src.qcow2" "$2" ;;
    nbdcopy) nbdcopy --flush "$tmp/src.raw" "$2" ;;
  esac
  ms=$(ms_since "$t")
}

verify ()
{
  qemu-img compare -q -f raw -F raw "$tmp/src.raw" "$(uri dst)" ||
    fail "$1: the copy differs from the source"
}

echo "Making a ${mib}M source image (60% data, 40% holes)..."
make_source src "$mib"
echo "Destination: nbdkit memory, one request at a time per connection,"
echo "${delay} per write, no multi-conn: a slow remote target."
echo "multicopy runs with its defaults: $(nbdkit "$plugin" --dump-plugin |
  sed -n 's/^multicopy_connections_default=//p') connections, stripes of" \
  "$(( $(nbdkit "$plugin" --dump-plugin |
         sed -n 's/^multicopy_segment_size_default=//p') >> 20 ))M."
echo

for client in qemu-img nbdcopy; do
  start_destination
  echo "$client straight to the destination..."
  copy $client "$(uri dst)"
  verify "$client, direct"
  direct=$ms
  stop_server dst

  start_destination
  start_multicopy mc dst stats="$tmp/$client.stats"
  echo "$client through multicopy..."
  copy $client "$(uri mc)"
  stop_server mc
  verify "$client, through multicopy"
  stop_server dst
  rows+=("$client|$(secs $direct)|$(secs $ms)|$(python3 -c \
    "print(f'{$direct / $ms:.1f} x')")|yes")
done

echo
echo "What each upstream connection carried for nbdcopy (stats=FILE):"
grep -E '^connection=[0-3] ' "$tmp/nbdcopy.stats" |
  sed -E 's/ (zero|trim|cache|extents)=[^ ]*//g; s/ replay-log=.*//'
echo "... ($(grep -c '^connection=' "$tmp/nbdcopy.stats") connections)"
grep '^balance=' "$tmp/nbdcopy.stats"

echo
echo "A ${cut_mib}M copy with qemu-img while every upstream connection is"
echo "cut: the destination drops what a connection did not flush."
make_source cut "$cut_mib"
# One request at a time upstream: nbdkit 1.32 can abort when a client
# connection is cut under several (DESIGN.md).
start_nbdkit dst --threads 1 --filter=rate "$wbcache" size="${cut_mib}M" \
  rate=160M burstiness=0.02
start_relay relay dst
start_multicopy mc relay stats="$tmp/cut.stats"
t=$(date +%s%N)
qemu-img convert -n -W -m 8 -f raw -O raw "$tmp/cut.raw" "$(uri mc)" &
client=$!
sleep 0.6
echo all > "$(sock relay).cut"
kill -USR1 "${server_pid[relay]}"
echo "cut every connection at 0.6 s"
wait $client || fail "qemu-img failed across the cut"
ms=$(ms_since "$t")
stop_server mc
qemu-img compare -q -f raw -F raw "$tmp/cut.raw" "$(uri dst)" ||
  fail "the copy across the cut differs from the source"
sum () { stat_sum "$1" "$tmp/cut.stats"; }
echo "$(sum reconnects) reconnects, $(sum replays) replays of what no" \
  "flush had covered, $(sum lost-writes) writes lost"
rows+=("qemu-img, all connections cut|-|$(secs $ms)|-|yes")

echo
printf '%-30s %10s %10s %9s %9s\n' client direct multicopy speed-up verified
for r in "${rows[@]}"; do
  IFS='|' read -r c d m s v <<<"$r"
  printf '%-30s %10s %10s %9s %9s\n' "$c" "$d" "$m" "$s" "$v"
done
