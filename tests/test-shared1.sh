#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# qemu-nbd with its default --shared=1 keeps a second client waiting in
# the handshake forever.  multicopy must come up with the one connection
# it got, soon after that one (not after all of connect-timeout, 10s),
# say so, and copy correctly.
source "$(dirname "$0")/functions.sh"
requires qemu-img qemu-nbd python3

make_source src 32
qemu-img create -q -f qcow2 "$tmp/dst.qcow2" 32M
start_qemu_nbd qn -f qcow2 "$tmp/dst.qcow2"

start=$(date +%s%N)
start_multicopy mc qn connections=16
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "multicopy up after ${elapsed_ms}ms"
limit=$([ -n "${MULTICOPY_CHECK:-}" ] && echo 20000 || echo 5000)
[ $elapsed_ms -lt $limit ] ||
  fail "start took ${elapsed_ms}ms: the other handshakes were waited for"
grep -F 'warning: only 1 of 16 upstream connections came up' "$tmp/mc.log" ||
  fail "no warning about the missing connections"

qemu-img convert -n -W -m 8 -f qcow2 -O raw "$tmp/src.qcow2" "$(uri mc)"
qemu-img compare -f qcow2 -F raw "$tmp/src.qcow2" "$(uri mc)"
stop_server mc
stop_server qn
qemu-img compare "$tmp/src.qcow2" "$tmp/dst.qcow2"
