#!/usr/bin/env bash
# Parameters: every bad one makes nbdkit exit non-zero, promptly, with a
# message that names the problem; the good forms are accepted.
source "$(dirname "$0")/functions.sh"
requires nbdkit

start_nbdkit up memory 16M

# refused ARGS... -- PATTERN: nbdkit must fail and print PATTERN.
refused ()
{
  local args=() pattern out rc
  while [ "$1" != "--" ]; do args+=("$1"); shift; done
  pattern=$2
  set +e
  out=$(nbdkit_to_end -U - "$plugin" "${args[@]}" --run true)
  rc=$?
  set -e
  [ $rc -ne 0 ] || fail "accepted: ${args[*]}"
  [ $rc -ne 124 ] || fail "hung: ${args[*]}"
  grep -qiE -- "$pattern" <<<"$out" ||
    fail "for '${args[*]}' expected /$pattern/ in: $out"
  echo "refused as expected: ${args[*]}: $(grep -iE -- "$pattern" <<<"$out" | head -1)"
}

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

refused "$up" connections=0 -- 'connections=0: must be between 1 and 64'
refused "$up" connections=65 -- 'connections=65: must be between 1 and 64'
refused "$up" connections=four -- 'connections=four: must be between 1 and 64'
refused "$up" segment-size=3M -- 'segment-size=3M: must be a power of 2'
refused "$up" segment-size=1X -- 'segment-size=1X: cannot parse'
refused "$up" segment-size=256 -- 'segment-size=256: must be between'
refused "$up" segment-size=2G -- 'segment-size=2G: must be between'
refused "$up" connect-timeout=0 -- 'connect-timeout=0'
refused "$up" connect-timeout=soon -- 'connect-timeout=soon'
refused "$up" tls=maybe -- 'tls=maybe'
refused "$up" tls-verify=perhaps -- 'tls-verify=perhaps'
refused "$up" colour=blue -- "unknown parameter 'colour'"
refused connections=2 -- 'exactly one of uri=, socket= or hostname='
refused "$up" socket="$(sock up)" -- 'exactly one of uri=, socket= or hostname='
refused socket="$(sock up)" port=10809 -- 'port= needs hostname='
refused "$up" export=foo -- 'export= cannot be used with uri='
refused "nbd+unix:///?socket=$tmp/nowhere.sock" retry=0 -- \
  'cannot connect|No such file or directory'
refused socket="$tmp/nowhere.sock" retry=0 -- 'No such file or directory'
refused hostname=127.0.0.1 port=1 retry=0 -- 'Connection refused'
refused "not-a-uri" -- 'cannot connect to the upstream: .*uri'

# Nothing is accepted silently: a key given twice, TLS keys that
# tls=off would ignore, key files that are not there.
refused "$up" connections=4 connections=8 -- 'connections= is given twice'
refused "$up" segment-size=1M segment-size=2M -- 'segment-size= is given twice'
refused "$up" "$up" -- 'uri= is given twice'
refused "$up" reconnect-timeout=1 reconnect-timeout=2 -- \
  'reconnect-timeout= is given twice'
psktool -u alice -p "$tmp/keys.psk" >/dev/null
refused "$up" tls=off tls-psk="$tmp/keys.psk" -- \
  'tls-psk= cannot be used with tls=off'
refused "$up" tls-username=alice tls=off -- \
  'tls-username= cannot be used with tls=off'
refused "$up" tls-psk="$tmp/none.psk" -- \
  "tls-psk=$tmp/none.psk: No such file or directory"
refused "$up" tls-certificates="$tmp/none.d" -- \
  "tls-certificates=$tmp/none.d: No such file or directory"
refused "$up" tls-certificates="$tmp/keys.psk" -- \
  "tls-certificates=$tmp/keys.psk: not a directory"
for key in connections segment-size; do
  value=$([ $key = connections ] && echo 2 || echo 4M)
  out=$(nbdkit_to_end -U - --filter="$filter" memory 1M "$key=$value" "$key=$value" \
          --run true) && fail "the filter accepted $key twice"
  grep -q "$key= is given twice" <<<"$out" ||
    fail "the filter's message for $key twice: $out"
  echo "filter refused: $key twice"
done

# A stripe that splits the upstream's blocks.
start_nbdkit big --filter=blocksize-policy memory 16M \
  blocksize-minimum=64K blocksize-preferred=64K blocksize-maximum=32M
refused "$(uri big)" segment-size=32K -- \
  'segment-size=32768 is not a multiple of the upstream.s minimum block size 65536'

# A server that accepts and never speaks: the handshake must time out,
# and with no connection up nbdkit must not start.
python3 - "$(sock silent)" <<'EOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); s.listen(16)
held = []
while True:
    c, _ = s.accept(); held.append(c)
EOF
track_pid silent $!
for i in $(seq 50); do [ -S "$(sock silent)" ] && break; sleep 0.1; done
start=$(date +%s%N)
refused "$(uri silent)" connect-timeout=1 retry=0 -- \
  'no handshake finished within connect-timeout \(1.000s\)'
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "silent server refused after ${elapsed_ms}ms"
[ $elapsed_ms -lt 10000 ] || fail "the 1s connect timeout took ${elapsed_ms}ms"

# The good forms.
accepted "$up"
accepted uri="$up" connections=1 segment-size=512
accepted "$up" connections=64 segment-size=1G connect-timeout=0.5
accepted socket="$(sock up)" connections=3 segment-size=64k
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
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
