#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# The upstream over AF_VSOCK (vsock=CID, port=), as nbdkit's nbd plugin
# takes it: the parameters, and a copy through the local vsock loopback
# where this machine has one.
source "$(dirname "$0")/functions.sh"
requires nbdinfo nbdsh

refused 'vsock=two: expecting a number' "$plugin" vsock=two
refused 'port=x: expecting a number' "$plugin" vsock=1 port=x
"${nbdkit_cmd[@]}" "$plugin" --dump-plugin | grep -qx 'libnbd_vsock=1' ||
  fail "--dump-plugin does not say vsock is supported"

# VMADDR_CID_LOCAL (1) reaches this machine, if the kernel has the
# vsock loopback transport.
port=$(( 20000 + RANDOM % 20000 ))
"${nbdkit_cmd[@]}" -f --vsock -p "$port" memory 16M >"$tmp/up.log" 2>&1 &
track_pid up $!
sleep 1
python3 - "$port" <<'PY' || skip "no vsock loopback on this machine (CID 1)"
import socket, sys
s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
s.settimeout(3)
s.connect((1, int(sys.argv[1])))
PY
start_nbdkit mc "$plugin" vsock=1 port="$port" connections=4 \
  segment-size=64K retry=0
nbdsh -u "$(uri mc)" -c '
import os
data = os.urandom(1 << 20)
h.pwrite(data, 0)
h.flush()
assert h.pread(1 << 20, 0) == data
'
[ "$(nbdinfo --size "nbd+vsock://1:$port")" = 16777216 ] ||
  fail "the upstream over vsock"
echo "a copy over vsock, 4 connections"
