#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# Parameters: every bad one makes nbdkit exit non-zero, promptly, with a
# message that names the problem; the good forms are accepted.
source "$(dirname "$0")/functions.sh"
requires nbdinfo psktool python3 qemu-nbd

start_nbdkit up memory 16M

accepted ()
{
  local out
  local rc=0
  out=$(nbdkit_to_end -U - "$plugin" "$@" --run 'nbdinfo --size "$uri"') ||
    rc=$?
  [ $rc -eq 0 ] || [ $rc -eq 125 ] || fail "refused: $*: $out"
  [ "$(tail -n1 <<<"$out")" = 16777216 ] || fail "wrong size for $*: $out"
  echo "accepted: $*"
}

up=$(uri up)

refused 'connections=0: must be between 1 and 64' \
  "$plugin" "$up" connections=0
refused 'connections=65: must be between 1 and 64' \
  "$plugin" "$up" connections=65
refused 'connections=four: must be between 1 and 64' \
  "$plugin" "$up" connections=four
refused 'segment-size=3M: must be a power of 2' \
  "$plugin" "$up" segment-size=3M
refused 'segment-size=1X: cannot parse' "$plugin" "$up" segment-size=1X
refused 'segment-size=256: must be between' "$plugin" "$up" segment-size=256
refused 'segment-size=2G: must be between' "$plugin" "$up" segment-size=2G
refused 'max-in-flight=0: expecting auto or a number from 1 to 65536' \
  "$plugin" "$up" max-in-flight=0
refused 'max-in-flight=65537: expecting auto' "$plugin" "$up" max-in-flight=65537
refused 'max-in-flight=some: expecting auto' "$plugin" "$up" max-in-flight=some
refused 'max-in-flight=-1: expecting auto' "$plugin" "$up" max-in-flight=-1
refused 'reply-threads=65: expecting auto or a number from 0 to 64' \
  "$plugin" "$up" reply-threads=65
refused 'reply-threads=two: expecting auto' "$plugin" "$up" reply-threads=two
refused 'reply-threads=-1: expecting auto' "$plugin" "$up" reply-threads=-1
refused 'connect-timeout=0' "$plugin" "$up" connect-timeout=0
refused 'connect-timeout=soon' "$plugin" "$up" connect-timeout=soon
refused 'tls=maybe' "$plugin" "$up" tls=maybe
refused 'tls-verify=perhaps' "$plugin" "$up" tls-verify=perhaps
refused "unknown parameter 'colour'" "$plugin" "$up" colour=blue
refused 'one of uri=, socket=, hostname= or vsock= must be given' \
  "$plugin" connections=2
refused 'port= needs hostname= or vsock=' "$plugin" socket="$(sock up)" port=10809
refused 'export= cannot be used with uri=' "$plugin" "$up" export=foo
refused 'cannot connect|No such file or directory' \
  "$plugin" "nbd+unix:///?socket=$tmp/nowhere.sock" retry=0
refused 'No such file or directory' \
  "$plugin" socket="$tmp/nowhere.sock" retry=0
refused 'Connection refused' "$plugin" hostname=127.0.0.1 port=1 retry=0
refused 'cannot connect to the upstream: .*uri' "$plugin" "not-a-uri"
refused 'port=99999: expecting a TCP port from 1 to 65535' \
  "$plugin" hostname=127.0.0.1 port=99999
refused 'port=0: expecting a TCP port' "$plugin" hostname=127.0.0.1 port=0

echo "== an export the upstream does not have is refused at once"
truncate -s 16M "$tmp/q.img"
start_qemu_nbd q -x foo -f raw "$tmp/q.img"
start=$(date +%s%N)
refused "has no export named 'bar'" \
  "$plugin" "nbd+unix:///bar?socket=$(sock q)" retry=30
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $ms -lt 10000 ] || fail "a missing export was retried for ${ms}ms"

# Nothing is accepted silently: a key given twice, TLS keys that
# tls=off would ignore, key files that are not there.
refused 'connections= is given twice' \
  "$plugin" "$up" connections=4 connections=8
refused 'segment-size= is given twice' \
  "$plugin" "$up" segment-size=1M segment-size=2M
refused 'reconnect-timeout= is given twice' \
  "$plugin" "$up" reconnect-timeout=1 reconnect-timeout=2
psktool -u alice -p "$tmp/keys.psk" >/dev/null
refused 'tls-psk= cannot be used with tls=off' \
  "$plugin" "$up" tls=off tls-psk="$tmp/keys.psk"
refused 'tls-username= cannot be used with tls=off' \
  "$plugin" "$up" tls-username=alice tls=off
refused "tls-psk=$tmp/none.psk: No such file or directory" \
  "$plugin" "$up" tls-psk="$tmp/none.psk"
refused "tls-certificates=$tmp/none.d: No such file or directory" \
  "$plugin" "$up" tls-certificates="$tmp/none.d"
refused "tls-certificates=$tmp/keys.psk: not a directory" \
  "$plugin" "$up" tls-certificates="$tmp/keys.psk"

# A stripe that splits the upstream's blocks.
start_nbdkit big --filter=blocksize-policy memory 16M \
  blocksize-minimum=64K blocksize-preferred=64K blocksize-maximum=32M
refused 'segment-size=32768 is not a multiple of the upstream.s minimum block size 65536' \
  "$plugin" "$(uri big)" segment-size=32K

# A server that accepts and never speaks: the handshake must time out,
# and with no connection up nbdkit must not start.
start_server silent "$(sock silent)" \
  python3 "$top/tests/fixtures/silent.py" "$(sock silent)"
start=$(date +%s%N)
refused 'no handshake finished within connect-timeout \(1.000s\)' \
  "$plugin" "$(uri silent)" connect-timeout=1 retry=0
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "silent server refused after ${elapsed_ms}ms"
[ $elapsed_ms -lt 10000 ] || fail "the 1s connect timeout took ${elapsed_ms}ms"

# The good forms.
accepted "$up"
accepted uri="$up" connections=1 segment-size=512
accepted "$up" connections=64 segment-size=1G connect-timeout=0.5
accepted socket="$(sock up)" connections=3 segment-size=64k max-in-flight=1
accepted "$up" max-in-flight=AUTO
accepted "$up" max-in-flight=65536
accepted "$up" reply-threads=0
accepted "$up" reply-threads=AUTO
port=$(free_port)
start_server tcp "$tmp/tcp.pid" \
  nbdkit -f -P "$tmp/tcp.pid" -i 127.0.0.1 -p "$port" memory 16M
accepted hostname=127.0.0.1 port="$port" connections=2
accepted "nbd://127.0.0.1:$port" connections=2

# --help lists every key the man page documents, and the reverse.
help=$("${nbdkit_cmd[@]}" "$plugin" --help)
keys_help=$(grep -oE '^\[?[a-z-]+\]?=' <<<"$help" | tr -d '[]=' | sort -u)
keys_man=$(grep -oE '^=item B<[a-z-]+=' "$top/nbdkit-multicopy.pod" |
             sed 's/=item B<//; s/=$//' | sort -u)
[ "$keys_help" = "$keys_man" ] ||
  fail "--help and the man page disagree: $(diff <(echo "$keys_help") <(echo "$keys_man"))"
echo "--help and man page list the same keys: $(echo $keys_help)"
