#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# make demo: copy a disk image into a slow destination that serves one
# request at a time per connection and does not advertise multi-conn,
# first directly and then through multicopy; verify both copies and
# print the times.
source "$(dirname "$0")/functions.sh"

mib=${DEMO_MIB:-512}
delay=${DEMO_DELAY:-5ms}
conns=${DEMO_CONNECTIONS:-4}

ms_since () { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

start_destination ()
{
  start_nbdkit dst --filter=multi-conn --filter=noparallel --filter=delay \
    memory "${mib}M" multi-conn-mode=disable wdelay="$delay"
}

echo "Making a ${mib}M qcow2 source image (60% data, 40% holes)..."
make_source src "$mib"

echo "Destination: nbdkit memory, one request at a time per connection,"
echo "  ${delay} per write, no multi-conn (a slow remote target)."
echo

start_destination
echo "1. qemu-img convert straight to the destination..."
t=$(date +%s%N)
qemu-img convert -n -W -m 8 -f qcow2 -O raw "$tmp/src.qcow2" "$(uri dst)"
direct_ms=$(ms_since "$t")
qemu-img compare -q -f qcow2 -F raw "$tmp/src.qcow2" "$(uri dst)" ||
  fail "the direct copy differs from the source"
echo "   ${direct_ms} ms, verified with qemu-img compare"
stop_server dst

start_destination
start_multicopy mc dst connections="$conns"
echo "2. qemu-img convert through multicopy (connections=$conns)..."
t=$(date +%s%N)
qemu-img convert -n -W -m 8 -f qcow2 -O raw "$tmp/src.qcow2" "$(uri mc)"
mc_ms=$(ms_since "$t")
stop_server mc
qemu-img compare -q -f qcow2 -F raw "$tmp/src.qcow2" "$(uri dst)" ||
  fail "the copy through multicopy differs from the source"
echo "   ${mc_ms} ms, verified with qemu-img compare on the destination"
stop_server dst

echo
printf 'direct: %d ms   multicopy: %d ms   speed-up: %s x\n' \
  "$direct_ms" "$mc_ms" "$(python3 -c "print(f'{$direct_ms/$mc_ms:.2f}')")"
