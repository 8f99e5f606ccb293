#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# What an operator reads: one line per bad value; --help of the filter
# speaks of contexts; versions; --dump-plugin gives the limits that the
# man page states; without -v, the start says how many connections came
# up; libnbd's debugging goes through nbdkit's debug log; a reconnect
# that loses nothing is not an error; over the nbd plugin, the filter
# explains that plugin's noise once; warnings, notices and the startup
# line follow --log= (stderr, syslog, null).
source "$(dirname "$0")/functions.sh"
requires nbdinfo nbdsh python3

start_nbdkit up memory 16M

echo "== a bad value gets one line"
for bad in connections=four connections=0 segment-size=1X segment-size=3M \
           connect-timeout=soon retry=-1 shutdown-timeout=0 tls=maybe \
           tls-verify=maybe; do
  out=$(nbdkit_to_end -U - "$plugin" "$(uri up)" "$bad" --run true) &&
    fail "$bad accepted"
  n=$(grep -c 'error:' <<<"$out") || true
  [ "$n" -eq 1 ] || fail "$bad: $n error lines: $out"
  echo "$bad: $out"
done

echo "== --help, --version, --dump-plugin"
version=$(sed -n 's/^VERSION *= *//p' "$top/Makefile")
"${nbdkit_cmd[@]}" "$plugin" --version | grep -qx "multicopy $version" ||
  fail "the plugin's --version is not $version"
help=$("${nbdkit_cmd[@]}" --filter="$filter" memory --help)
grep -q "^filter: multicopy (nbdkit multicopy filter $version)" <<<"$help" ||
  fail "the filter's --help does not give its version"
grep -q 'Contexts of the plugin below' <<<"$help" ||
  fail "the filter's --help does not speak of contexts"
! grep -q 'Upstream connections' <<<"$help" ||
  fail "the filter's --help speaks of upstream connections"
dump=$("${nbdkit_cmd[@]}" "$plugin" --dump-plugin)
for kv in multicopy_connections_default=16 multicopy_connections_min=1 \
          multicopy_connections_max=64 \
          multicopy_segment_size_default=2097152 \
          multicopy_segment_size_min=512 \
          multicopy_segment_size_max=1073741824; do
  grep -qx "$kv" <<<"$dump" || fail "--dump-plugin lacks $kv: $dump"
done
man=$(tr '\n' ' ' < "$top/nbdkit-multicopy.pod")
grep -q 'from 1 to 64 (default 16[;)]' <<<"$man" &&
  grep -q 'a power of 2 from 512 bytes to 1G (default 2M)' <<<"$man" ||
  fail "the man page does not state the limits --dump-plugin prints"
echo "versions, help and limits agree"

echo "== without -v: how many connections came up"
out=$(nbdkit_ok -U - "$plugin" "$(uri up)" connections=3 \
        --run 'nbdinfo --size "$uri"')
grep -q 'multicopy: 3 upstream connections up, stripes of 2097152 bytes' \
  <<<"$out" || fail "no startup line: $out"

echo "== libnbd's debugging goes through nbdkit's debug log"
start_nbdkit mc -D multicopy.verbose=1 "$plugin" "$(uri up)" connections=2
nbdinfo --size "$(uri mc)" >/dev/null
grep -q 'debug: libnbd: multicopy0: ' "$tmp/mc.log" ||
  fail "no libnbd debugging in nbdkit's log"
! grep -q '^libnbd: debug' "$tmp/mc.log" ||
  fail "libnbd wrote to stderr by itself"
stop_server mc

echo "== a reconnect that loses nothing is not an error"
start_relay proxy up
start_multicopy mc proxy connections=2 segment-size=64K
CLIENT_TIMEOUT=60 client reconnect-resend.py "$(uri mc)" \
  "${server_pid[proxy]}" "$(sock proxy)"
grep -q 'reconnected after' "$tmp/mc.log" || fail "no reconnect happened"
! grep -E 'error:.*(reconnect|died)' "$tmp/mc.log" ||
  fail "a reconnect that lost nothing was logged as an error"
stop_server mc
stop_server proxy

echo "== over the nbd plugin, its noise is explained once"
out=$(nbdkit_ok -U - --filter="$filter" nbd socket="$(sock up)" \
        connections=3 --run 'nbdinfo --size "$uri"')
[ "$(grep -c 'note: the nbd plugin logs' <<<"$out")" -eq 1 ] ||
  fail "no single explanation: $out"
echo "$out" | grep -E 'note|no connection'


echo "== warnings and the startup line go where --log= sends nbdkit's log"
# retry= alone warns (it also sets reconnect-timeout=, as before 0.2.0).
said_by () {
  nbdkit_ok -U - --log="$1" "$plugin" "$(uri up)" connections=3 retry=5 \
    --run 'nbdinfo --size "$uri" >/dev/null'
}
out=$(said_by stderr)
grep -q 'multicopy: warning: retry=5 also sets' <<<"$out" &&
  grep -q 'multicopy: 3 upstream connections up' <<<"$out" ||
  fail "--log=stderr: no warning or startup line: $out"
out=$(said_by null)
! grep -q 'multicopy' <<<"$out" || fail "--log=null, yet on stderr: $out"
out=$(nbdkit_ok -U - --log=null --filter="$filter" nbd socket="$(sock up)" \
        connections=3 --run 'nbdinfo --size "$uri"')
! grep -q 'note: the nbd plugin logs' <<<"$out" ||
  fail "--log=null, yet the filter's note is on stderr: $out"
# syslog(3) writes datagrams to /dev/log: listen there ourselves when
# the machine has no logger of its own.
if [ -e /dev/log ]; then
  echo "--log=syslog not checked: /dev/log is this machine's own logger"
elif [ ! -w /dev ]; then
  echo "--log=syslog not checked: cannot create /dev/log"
else
  python3 - "$tmp/syslog" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
s.settimeout(60)
with open(sys.argv[1], "ab", buffering=0) as out:
    try:
        while True:
            out.write(s.recv(65536) + b"\n")
    except (socket.timeout, KeyboardInterrupt):
        pass
    finally:
        os.unlink("/dev/log")
PY
  listener=$!
  for _ in $(seq 50); do [ -S /dev/log ] && break; sleep 0.1; done
  out=$(said_by syslog)
  sleep 0.5
  kill -INT "$listener"; wait "$listener" || true
  rm -f /dev/log
  cat "$tmp/syslog"
  ! grep -q 'multicopy' <<<"$out" || fail "--log=syslog, yet on stderr: $out"
  grep -q 'multicopy: warning: retry=5 also sets' "$tmp/syslog" &&
    grep -q 'multicopy: 3 upstream connections up' "$tmp/syslog" ||
    fail "--log=syslog: the warning or the startup line is not in syslog"
fi
