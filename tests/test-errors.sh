#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# Upstream errors reach the client with the upstream's errno, each kind
# of request and flush; random errors during a copy make the copy fail
# rather than hang or succeed; a slow upstream gets a good copy.
# (Lost connections: test-reconnect-*, test-loss-once, test-replay.)
source "$(dirname "$0")/functions.sh"
requires qemu-img nbdsh python3

echo "== errno passes through"
for spec in pwrite:ENOSPC pread:EIO zero:EPERM trim:EINVAL; do
  op=${spec%:*} err=${spec#*:}
  start_nbdkit up --filter=error memory 16M error="$err" "error-$op-rate=1"
  start_multicopy mc up connections=2 segment-size=64K
  OP=$op ERR=$err nbdsh -u "$(uri mc)" -c '
import errno, os
op, want = os.environ["OP"], getattr(errno, os.environ["ERR"])
call = {"pwrite": lambda: h.pwrite(b"x" * 200000, 1000),
        "pread": lambda: h.pread(200000, 1000),
        "zero": lambda: h.zero(200000, 1000),
        "trim": lambda: h.trim(200000, 1000)}[op]
try:
    call()
    raise SystemExit(f"{op} succeeded despite the error filter")
except nbd.Error as e:
    assert e.errnum == want, f"{op}: got errno {e.errnum} ({e.string}), want {want}"
    print(f"{op}: client saw {errno.errorcode[e.errnum]}")
'
  stop_server mc
  stop_server up
done

echo "== a failing flush fails the client's flush"
# nbdkit 1.32's error filter cannot fail flushes; the fixture can.
start_nbdkit up "$wbcache" size=16M flush-fails=true
start_multicopy mc up connections=2 segment-size=64K
nbdsh -u "$(uri mc)" -c '
import errno
h.pwrite(b"x" * 200000, 1000)
try:
    h.flush()
    raise SystemExit("flush succeeded despite the error filter")
except nbd.Error as e:
    assert e.errnum == errno.EIO, e.string
    print("flush: client saw EIO")
'
stop_server mc
stop_server up

echo "== random errors during a copy: the copy fails, it does not hang"
make_source src 32
for op in pread pwrite zero; do
  start_nbdkit up --filter=error memory 64M error=EIO "error-$op-rate=20%"
  start_multicopy mc up connections=4 segment-size=256K
  if [ "$op" = pread ]; then
    # Data to read first (only reads fail).  qemu-img, not nbdcopy:
    # nbdcopy leaves with reads in flight, and nbdkit 1.32 itself then
    # aborts (connections.c raw_send_socket: sock >= 0), plugin or not.
    qemu-img convert -n -W -f qcow2 -O raw "$tmp/src.qcow2" "$(uri mc)"
    cmd=(qemu-img convert -f raw -O raw "$(uri mc)" "$tmp/out.raw")
  else
    cmd=(qemu-img convert -n -W -m 8 -f qcow2 -O raw "$tmp/src.qcow2" "$(uri mc)")
  fi
  rc=0
  timeout 60 "${cmd[@]}" >"$tmp/client.out" 2>&1 || rc=$?
  [ $rc -ne 124 ] || fail "$op errors: the client hung"
  [ $rc -ne 0 ] || fail "$op errors: the client reported success"
  grep -qi 'error' "$tmp/client.out" || fail "$op errors: no message"
  echo "$op at 20%: client failed (exit $rc): $(head -c 120 "$tmp/client.out")"
  stop_server mc
  stop_server up
done

echo "== a slow upstream: every request and flush slow, the copy is good"
# wbcache keeps writes per connection until a flush: a fresh connection
# straight to it sees only what multicopy really flushed.
start_nbdkit up --filter=delay "$wbcache" size=32M flush-delay=300 \
  rdelay=20ms wdelay=20ms
start_multicopy mc up connections=4 segment-size=1M
make_source slow 32
timeout 120 qemu-img convert -n -W -m 8 -f qcow2 -O raw "$tmp/slow.qcow2" \
  "$(uri mc)" || fail "the copy into the slow upstream failed or hung"
stop_server mc
qemu-img compare -q -f qcow2 -F raw "$tmp/slow.qcow2" "$(uri up)" ||
  fail "the slow upstream does not hold the copy"
echo "slow upstream: the copy is durable and identical"
