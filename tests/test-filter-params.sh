#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# The filter's parameters and thread models: bad values refused with a
# message naming the parameter; serialize_connections refused; a stripe
# that splits the plugin's blocks refused at the first client; nbdkit
# -r serves read-only.
source "$(dirname "$0")/functions.sh"
requires nbdinfo nbdsh

refused 'connections=0: must be between 1 and 64' \
  --filter="$filter" memory 16M connections=0
refused 'segment-size=3M: must be a power of 2' \
  --filter="$filter" memory 16M segment-size=3M
refused 'segment-size=1Q: cannot parse' \
  --filter="$filter" memory 16M segment-size=1Q
refused 'max-in-flight=0: expecting auto or a number from 1 to 65536' \
  --filter="$filter" memory 16M max-in-flight=0
refused 'max-in-flight=lots: expecting auto' \
  --filter="$filter" memory 16M max-in-flight=lots
refused 'max-in-flight= is given twice' \
  --filter="$filter" memory 16M max-in-flight=2 max-in-flight=2
refused 'connections= is given twice' \
  --filter="$filter" memory 16M connections=2 connections=2
refused 'segment-size= is given twice' \
  --filter="$filter" memory 16M segment-size=4M segment-size=4M
refused "thread model is serialize_connections" \
  --filter="$filter" --filter=noparallel memory 16M serialize=connections
refused 'segment-size=32768 is not a multiple of the plugin.s minimum block size 65536' \
  --filter="$filter" --filter=blocksize-policy memory 16M \
  blocksize-minimum=64K blocksize-preferred=64K segment-size=32K

echo "== nbdkit -r"
start_nbdkit ro -r --filter="$filter" memory 16M connections=2
nbdsh -u "$(uri ro)" -c '
assert h.is_read_only()
h.pread(100000, 777)
'
stop_server ro
