#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# socket-buffer=SIZE sizes every upstream socket's buffers (the kernel
# reports twice what was asked), 0 leaves the system's, the old
# -D multicopy.sockbuf=KiB still works with a warning, and bad values
# are refused naming the key.
source "$(dirname "$0")/functions.sh"
requires ss

start_nbdkit up memory 16M

# sockets_with NAME BYTES: how many of server NAME's sockets have a
# send and a receive buffer of BYTES.
sockets_with ()
{
  ss -xmp | grep -A1 "pid=${server_pid[$1]}," |
    grep -c "rb$2,t0,tb$2," || true
}

echo "== socket-buffer=1M on 3 connections"
start_multicopy mc up connections=3 socket-buffer=1M
n=$(sockets_with mc $(( 2 << 20 )))
[ "$n" -eq 3 ] || fail "$n sockets with 1M buffers, expected 3"
stop_server mc

echo "== socket-buffer=0: the system's"
start_multicopy mc up connections=3 socket-buffer=0
n=$(sockets_with mc $(( 2 << 20 )))
[ "$n" -eq 0 ] || fail "$n sockets with 1M buffers, expected none"
n=$(sockets_with mc $(( 8 << 20 )))
[ "$n" -eq 0 ] || fail "$n sockets with the 4M default, expected none"
stop_server mc

echo "== the default: 4M"
start_multicopy mc up connections=2
n=$(sockets_with mc $(( 8 << 20 )))
[ "$n" -eq 2 ] || fail "$n sockets with 4M buffers, expected 2"
stop_server mc

echo "== -D multicopy.sockbuf=512, deprecated"
start_multicopy mc up connections=2 -D multicopy.sockbuf=512
n=$(sockets_with mc $(( 1 << 20 )))
[ "$n" -eq 2 ] || fail "$n sockets with 512K buffers, expected 2"
grep -q 'multicopy.sockbuf is deprecated .* give socket-buffer=512K' \
  "$tmp/mc.log" || fail "no deprecation warning"
stop_server mc

refused 'socket-buffer=2G: expecting a size from 0 to 1G' \
  "$plugin" "$(uri up)" socket-buffer=2G
refused 'socket-buffer=lots' "$plugin" "$(uri up)" socket-buffer=lots
