#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# Below the parallel thread model, nbdkit keeps each client's requests
# apart, but the filter's contexts are shared by every client: its own
# locks must keep two requests from ever running at once on one
# context.  The fixture (serialize=requests) logs any overlap.  nbdcopy
# with 4 client connections, qemu-img, and two clients flushing at once
# (each flush visits the contexts that need it, flush-delay on each).
source "$(dirname "$0")/functions.sh"
requires qemu-img nbdcopy nbdsh python3

make_source src 64
start_nbdkit ser --filter="$filter" "$wbcache" size=64M serialize=requests \
  flush-delay=100 connections=4 segment-size=64K
grep -q 'using thread model: serialize_requests' "$tmp/ser.log" ||
  fail "the fixture did not make the model serialize_requests"
nbdcopy_4 nbdcopy-ser "$(uri ser)"
qemu-img compare -f raw -F raw "$tmp/src.raw" "$(uri ser)"
qemu-img convert -n -W -m 8 -f qcow2 -O raw "$tmp/src.qcow2" "$(uri ser)"
qemu-img compare -f qcow2 -F raw "$tmp/src.qcow2" "$(uri ser)"
pids=()
for i in 1 2; do
  nbdsh -u "$(uri ser)" -c "h.pwrite(b'$i' * 65536, $i * 65536); h.flush()" &
  pids+=($!)
done
for pid in "${pids[@]}"; do
  wait "$pid" || fail "a concurrent write and flush failed"
done
stop_server ser
if grep -F 'wbcache: overlap' "$tmp/ser.log"; then
  fail "two requests ran at once on one context"
fi
echo "no two requests ever ran at once on one context"
