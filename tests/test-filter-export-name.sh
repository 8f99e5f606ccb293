#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# The filter's contexts are shared by every client, so the plugin
# below never learns a client's export name.  Plugins that choose what
# to serve by it must be refused before nbdkit serves anyone, with a
# message that says why (nbdkit 1.32's file plugin with dir= crashed on
# the first client, the nbd plugin with dynamic-export=true aborted),
# and a plugin that fails to open a shared context for any other
# reason must fail that client only, with a message, and never take the
# server down.  While the pool serves one export, a client asking for
# another is refused with a message that says why.
source "$(dirname "$0")/functions.sh"
requires nbdinfo nbdsh

mkdir "$tmp/dir"
truncate -s 1M "$tmp/dir/disk"
start_nbdkit up memory 16M

refused 'the file plugin with dir= serves the file named by each client.s export name' \
  --filter="$filter" file dir="$tmp/dir"
refused 'the file plugin with directory= serves' \
  --filter="$filter" file directory="$tmp/dir"
refused 'the nbd plugin with dynamic-export=true' \
  --filter="$filter" nbd socket="$(sock up)" dynamic-export=true
refused 'the ondemand plugin' \
  --filter="$filter" ondemand dir="$tmp/dir" size=1M
# Known by what it is, not by its file name.
plugindir=$(pkg-config --variable=plugindir nbdkit)
cp "$plugindir/nbdkit-file-plugin.so" "$tmp/mystore.so"
refused 'the file plugin with dir= serves' \
  --filter="$filter" "$tmp/mystore.so" dir="$tmp/dir"

echo "== still served: the file plugin with file=, the nbd plugin without dynamic-export"
out=$(nbdkit_ok -U - --filter="$filter" file "$tmp/dir/disk" \
        --run 'nbdinfo --size "$uri"')
grep -q '^1048576$' <<<"$out" || fail "file= not served: $out"
out=$(nbdkit_ok -U - --filter="$filter" nbd socket="$(sock up)" \
        dynamic-export=false --run 'nbdinfo --size "$uri"')
grep -q '^16777216$' <<<"$out" || fail "nbd plugin not served: $out"

echo "== a plugin that cannot open a shared context fails that client only"
# The info plugin (mode=exportname, its default) asks for the export
# name and fails cleanly when there is none.
start_nbdkit info --filter="$filter" info
rc=0
nbdinfo "$(uri info)" >"$tmp/client.out" 2>&1 || rc=$?
[ $rc -ne 0 ] || fail "the client was served: $(cat "$tmp/client.out")"
grep -q "cannot open a context that every client shares" "$tmp/info.log" ||
  fail "no message in the log"
kill -0 "${server_pid[info]}" || fail "the server died"
rc=0
nbdinfo "$(uri info)" >/dev/null 2>&1 || rc=$?
[ $rc -ne 0 ] || fail "the second client was served"
kill -0 "${server_pid[info]}" || fail "the server died at the second client"
echo "the server survives clients it cannot serve"
stop_server info

echo "== a client asking for another export while the pool serves one"
start_nbdkit fl --filter="$filter" memory 16M
export FL=$(uri fl)
nbdsh -c '
import os
a = h; a.connect_uri(os.environ["FL"])
b = nbd.NBD()
try:
    b.connect_uri(os.environ["FL"].replace(":///?", ":///other?"))
except nbd.Error:
    pass
else:
    raise AssertionError("a client for another export was let in")
a.pread(512, 0)
'
grep -q 'this client asks for export "other", but the contexts that all clients share serve ""' \
  "$tmp/fl.log" || fail "no clear message for the second export"
echo "the second export was refused with a message"
