#!/usr/bin/env bash
# The filter's contexts are shared by every client, so the plugin
# below never learns a client's export name.  Plugins that choose what
# to serve by it must be refused before nbdkit serves anyone, with a
# message that says why (nbdkit 1.32's file plugin with dir= crashed on
# the first client, the nbd plugin with dynamic-export=true aborted),
# and a plugin that fails to open a shared context for any other
# reason must fail that client only, with a message, and never take the
# server down.
source "$(dirname "$0")/functions.sh"
requires nbdinfo

mkdir "$tmp/dir"
truncate -s 1M "$tmp/dir/disk"
start_nbdkit up memory 16M

refused_at_start ()
{
  local pattern=$1 out rc=0
  shift
  out=$(nbdkit_to_end -U - --filter="$filter" "$@" \
          --run 'nbdinfo --size "nbd+unix:///disk?socket=$unixsocket"') ||
    rc=$?
  [ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "not refused (rc $rc): $*: $out"
  ! grep -q 'killed by signal' <<<"$out" || fail "nbdkit crashed: $*: $out"
  grep -qE -- "$pattern" <<<"$out" || fail "expected /$pattern/ for $*: $out"
  ! grep -q '^1048576$' <<<"$out" || fail "a client was served: $*"
  echo "refused: $*: $(grep -E -- "$pattern" <<<"$out" | head -1)"
}

refused_at_start 'the file plugin with dir= serves the file named by each client.s export name' \
  file dir="$tmp/dir"
refused_at_start 'the file plugin with directory= serves' \
  file directory="$tmp/dir"
refused_at_start 'the nbd plugin with dynamic-export=true' \
  nbd socket="$(sock up)" dynamic-export=true
refused_at_start 'the ondemand plugin' ondemand dir="$tmp/dir" size=1M

echo "== still served: the file plugin with file=, the nbd plugin without dynamic-export"
out=$(nbdkit_to_end -U - --filter="$filter" file "$tmp/dir/disk" \
        --run 'nbdinfo --size "$uri"')
grep -q '^1048576$' <<<"$out" || fail "file= not served: $out"
out=$(nbdkit_to_end -U - --filter="$filter" nbd socket="$(sock up)" \
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
