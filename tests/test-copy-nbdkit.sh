#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# qemu-img convert and nbdcopy through multicopy into nbdkit memory, with
# and without multi-conn upstream: the data arrives byte for byte, every
# upstream connection carries writes, and each stripe stays on one.
source "$(dirname "$0")/functions.sh"
requires qemu-img nbdcopy nbdinfo nbdsh python3

make_source src 64
want=$(sha256sum <"$tmp/src.raw" | cut -d' ' -f1)

for mode in multi-conn no-multi-conn; do
  if [ $mode = multi-conn ]; then
    start_nbdkit up --filter=log memory 64M logfile="$tmp/up.trace"
  else
    start_nbdkit up --filter=log --filter=multi-conn memory 64M \
      multi-conn-mode=disable logfile="$tmp/up.trace"
  fi
  # multicopy first: the ownership check takes the first 4 as its own.
  start_multicopy mc up connections=4 segment-size=1M
  nbdinfo --json "$(uri up)" | grep -q "\"can_multi_conn\": $(
    [ $mode = multi-conn ] && echo true || echo false)" ||
    fail "upstream multi-conn is not as the test intends"
  nbdinfo --json "$(uri mc)" | grep -q '"can_multi_conn": true' ||
    fail "multicopy does not advertise multi-conn"

  echo "== $mode: qemu-img convert"
  qemu-img convert -n -W -m 8 -f qcow2 -O raw "$tmp/src.qcow2" "$(uri mc)"
  qemu-img compare -f qcow2 -F raw "$tmp/src.qcow2" "$(uri mc)"
  [ "$(nbd_sha256 "$(uri up)")" = "$want" ] ||
    fail "$mode: qemu-img: upstream content differs"
  "$top/tests/log-check.py" ownership "$tmp/up.trace" $((1 << 20)) 4 4

  echo "== $mode: nbdcopy --connections=4"
  nbdsh -u "$(uri mc)" -c 'h.zero(h.get_size(), 0)'
  nbdcopy_4 nbdcopy "$(uri mc)"
  [ "$(nbd_sha256 "$(uri up)")" = "$want" ] ||
    fail "$mode: nbdcopy: upstream content differs"
  "$top/tests/log-check.py" ownership "$tmp/up.trace" $((1 << 20)) 4 4
  flushes=$(log_count_by_connection "$tmp/up.trace" Flush | wc -l)
  [ "$flushes" -eq 4 ] || fail "flush reached $flushes connections, want 4"

  stop_server mc
  stop_server up
  rm -f "$tmp/up.trace"
done

# The same through a daemonized nbdkit: connections opened before the
# fork must keep working after it.  Not under a checker: a preloaded
# sanitizer runtime can deadlock the parent's exit after the fork
# (see checker_exit_deadlock), and nothing would return.
if [ -n "${MULTICOPY_CHECK:-}" ]; then
  echo "daemonized nbdkit: not run under $MULTICOPY_CHECK"
  exit 0
fi
start_nbdkit up memory 64M
"${nbdkit_cmd[@]}" -U "$(sock dmc)" -P "$tmp/dmc.pid" "$plugin" "$(uri up)" \
  connections=4 segment-size=2M
track_pid dmc "$(cat "$tmp/dmc.pid")"
qemu-img convert -n -W -m 8 -f qcow2 -O raw "$tmp/src.qcow2" "$(uri dmc)"
qemu-img compare -f qcow2 -F raw "$tmp/src.qcow2" "$(uri up)"
echo "daemonized nbdkit: copy ok"
