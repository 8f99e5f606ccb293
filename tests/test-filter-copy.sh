#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# Copies through the filter, checked byte for byte: nbdcopy (which must
# use 4 connections: the filter advertises multi-conn) and qemu-img
# convert over the nbd plugin into a per-connection write-back cache;
# nbdcopy over the memory plugin; qemu-img into the file plugin, whose
# file holds the copy once nbdkit has exited.
source "$(dirname "$0")/functions.sh"
requires qemu-img nbdcopy nbdinfo python3

make_source src 64

echo "== over the nbd plugin into a per-connection write-back cache"
start_nbdkit up "$wbcache" size=64M
start_nbdkit fl --filter="$filter" nbd uri="$(uri up)" \
  connections=4 segment-size=64K
nbdcopy_4 nbdcopy-fl "$(uri fl)"
qemu-img compare -f raw -F raw "$tmp/src.raw" "$(uri up)"
qemu-img convert -n -W -m 8 -f qcow2 -O raw "$tmp/src.qcow2" "$(uri fl)"
qemu-img compare -f qcow2 -F raw "$tmp/src.qcow2" "$(uri up)"
stop_server fl
stop_server up

echo "== over memory: multi-conn advertised, nbdcopy uses 4 connections"
start_nbdkit mem --filter="$filter" memory 64M connections=4 segment-size=1M
nbdinfo --json "$(uri mem)" | grep -q '"can_multi_conn": true' ||
  fail "no multi-conn over the memory plugin"
nbdcopy_4 nbdcopy-mem "$(uri mem)"
qemu-img compare -f raw -F raw "$tmp/src.raw" "$(uri mem)"
stop_server mem

echo "== over file: the file holds the copy after nbdkit exits"
truncate -s 64M "$tmp/disk.img"
start_nbdkit file --filter="$filter" file "$tmp/disk.img" \
  connections=4 segment-size=4M
qemu-img convert -n -W -m 8 -f qcow2 -O raw "$tmp/src.qcow2" "$(uri file)"
stop_server file
qemu-img compare -f qcow2 -F raw "$tmp/src.qcow2" "$tmp/disk.img"
