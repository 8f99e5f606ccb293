#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# TLS: to the upstream with PSK (nbds+unix:// with the key file in the
# URI, and the tls-* parameters) and with X.509 certificates; a wrong
# key or an unknown CA refused with a clear error; nbdkit's own --tls
# toward clients in front of the plugin.  The key never appears in the
# logs (libnbd debugging on) or in --dump-plugin.
source "$(dirname "$0")/functions.sh"
requires psktool certtool qemu-img nbdcopy nbdinfo python3

psktool -u alice -p "$tmp/keys.psk" >/dev/null
key=$(cut -d: -f2 "$tmp/keys.psk")
make_source src 32
want=$(sha256sum <"$tmp/src.raw" | cut -d' ' -f1)

# copy_and_check CLIENT-URI UPSTREAM-URI: copy the source in, then read
# the upstream back over its own TLS and compare.
copy_and_check ()
{
  nbdcopy --flush "$tmp/src.raw" "$1"
  [ "$(nbd_sha256 "$2")" = "$want" ] || fail "the upstream holds other data"
}

echo "== PSK, key file in the URI"
start_nbdkit up --tls=require --tls-psk="$tmp/keys.psk" memory 32M
up_uri="nbds+unix://alice@/?socket=$(sock up)&tls-psk-file=$tmp/keys.psk"
start_nbdkit mc -D multicopy.verbose=1 "$plugin" "$up_uri" connections=4
copy_and_check "$(uri mc)" "$up_uri"
grep -q 'TLS' "$tmp/mc.log" || fail "libnbd debugging did not mention TLS"
! grep -qi "$key" "$tmp/mc.log" || fail "the PSK appears in the log"
stop_server mc
echo "copied over TLS-PSK; the key is not in the debug log"

echo "== PSK, with the socket= and tls-* parameters"
start_nbdkit mc "$plugin" socket="$(sock up)" tls=require tls-username=alice \
  tls-psk="$tmp/keys.psk" connections=2
copy_and_check "$(uri mc)" "$up_uri"
stop_server mc

echo "== a wrong key is refused before nbdkit serves"
psktool -u alice -p "$tmp/wrong.psk" >/dev/null
out=$(nbdkit_to_end -U - "$plugin" socket="$(sock up)" \
        tls=require tls-username=alice tls-psk="$tmp/wrong.psk" \
        connect-timeout=5 --run true) &&
  fail "nbdkit started with a wrong key"
grep -qi 'cannot connect to the upstream' <<<"$out" || fail "unclear: $out"
! grep -qi "$(cut -d: -f2 "$tmp/wrong.psk")" <<<"$out" ||
  fail "the wrong key appears in the error"
echo "refused: $(grep -i 'cannot connect' <<<"$out" | head -1)"
stop_server up

echo "== --dump-plugin says nothing secret"
dump=$("${nbdkit_cmd[@]}" "$plugin" --dump-plugin)
! grep -qi "$key" <<<"$dump" || fail "--dump-plugin shows the key"
grep -q '^name=multicopy' <<<"$dump" || fail "--dump-plugin: $dump"

echo "== X.509: a CA, a server certificate, verification on"
mkdir -p "$tmp/pki-server" "$tmp/pki-client"
( cd "$tmp/pki-server"
  certtool --generate-privkey --outfile ca-key.pem 2>/dev/null
  printf 'cn = multicopy test CA\nca\ncert_signing_key\nexpiration_days = 2\n' \
    >ca.info
  certtool --generate-self-signed --load-privkey ca-key.pem \
    --template ca.info --outfile ca-cert.pem 2>/dev/null
  certtool --generate-privkey --outfile server-key.pem 2>/dev/null
  printf '%s\n' 'organization = multicopy test' 'cn = localhost' \
    'dns_name = localhost' 'tls_www_server' 'encryption_key' 'signing_key' \
    'expiration_days = 2' >server.info
  certtool --generate-certificate --load-ca-certificate ca-cert.pem \
    --load-ca-privkey ca-key.pem --load-privkey server-key.pem \
    --template server.info --outfile server-cert.pem 2>/dev/null
  rm ca-key.pem )
cp "$tmp/pki-server/ca-cert.pem" "$tmp/pki-client/"
# Over TCP to localhost: libnbd checks the server's certificate against
# the host name, and does not verify it at all over a Unix socket.
port=$(free_port)
start_server up "$tmp/up.pid" nbdkit -f -P "$tmp/up.pid" \
  -i 127.0.0.1 -p "$port" --tls=require \
  --tls-certificates="$tmp/pki-server" memory 32M
start_nbdkit mc "$plugin" hostname=localhost port="$port" tls=require \
  tls-certificates="$tmp/pki-client" connections=4
x509_uri="nbds://localhost:$port/?tls-certificates=$tmp/pki-client"
copy_and_check "$(uri mc)" "$x509_uri"
stop_server mc
echo "copied over X.509 TLS with the server's certificate verified"

echo "== X.509: a certificate from an unknown CA is refused"
mkdir -p "$tmp/pki-other"
( cd "$tmp/pki-other"
  certtool --generate-privkey --outfile ca-key.pem 2>/dev/null
  printf 'cn = another CA\nca\ncert_signing_key\nexpiration_days = 2\n' >ca.info
  certtool --generate-self-signed --load-privkey ca-key.pem \
    --template ca.info --outfile ca-cert.pem 2>/dev/null
  rm ca-key.pem ca.info )
out=$(nbdkit_to_end -U - "$plugin" \
        "nbds://localhost:$port/?tls-certificates=$tmp/pki-other" \
        connect-timeout=5 --run true) &&
  fail "nbdkit trusted a certificate from an unknown CA"
grep -qi 'cannot connect to the upstream' <<<"$out" || fail "unclear: $out"
echo "refused: $(grep -i 'cannot connect' <<<"$out" | head -1)"
stop_server up

echo "== nbdkit --tls toward the clients, plugin behind it"
start_nbdkit up memory 32M
start_nbdkit mc --tls=require --tls-psk="$tmp/keys.psk" "$plugin" \
  "$(uri up)" connections=4
mc_tls="nbds+unix://alice@/?socket=$(sock mc)&tls-psk-file=$tmp/keys.psk"
copy_and_check "$mc_tls" "$(uri up)"
# Without TLS the client is turned away.
! nbdinfo --size "$(uri mc)" 2>/dev/null || fail "a plain client got in"
stop_server mc
echo "clients reach the plugin over TLS only"
