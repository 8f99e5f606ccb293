# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# Sourced by every end-to-end test.  Servers run in the background
# with their logs in $tmp; everything started is stopped on exit.
#
# A test exits 0 when it passed, 77 when it was skipped (saying why),
# anything else when it failed.

set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# nbdsh runs the python3 first in PATH, and only Debian's has libnbd.
export PATH=/usr/bin:/usr/sbin:/bin:/sbin:$PATH
export LC_ALL=C

plugin=$top/plugin/nbdkit-multicopy-plugin.so
filter=$top/filter/nbdkit-multicopy-filter.so
wbcache=$top/tests/fixtures/nbdkit-wbcache-plugin.so

tmp=$(mktemp -d /tmp/mc-test.XXXXXX)

# make check-asan, check-valgrind, check-tsan: every nbdkit the tests
# start with the plugin or the filter runs under the checker, which
# writes its reports to $tmp/checker.*; any report fails the test.
nbdkit_cmd=(nbdkit)
case ${MULTICOPY_CHECK:-} in
  "") ;;
  asan)
    # Leaks are valgrind's job (check-valgrind): LeakSanitizer's exit
    # check makes nbdkit 1.32 deadlock in exit too often to be useful.
    nbdkit_cmd=(env
      LD_PRELOAD="$(gcc -print-file-name=libasan.so):$top/tests/fixtures/nodlclose.so"
      ASAN_OPTIONS="detect_leaks=0:log_path=$tmp/checker"
      UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$tmp/checker"
      nbdkit) ;;
  tsan)
    nbdkit_cmd=(env
      LD_PRELOAD="$(gcc -print-file-name=libtsan.so):$top/tests/fixtures/nodlclose.so"
      TSAN_OPTIONS="log_path=$tmp/checker:suppressions=$top/tests/tsan.supp"
      nbdkit) ;;
  valgrind)
    nbdkit_cmd=(env LD_PRELOAD="$top/tests/fixtures/nodlclose.so"
      valgrind --quiet --log-file="$tmp/checker.%p"
      --leak-check=full --show-leak-kinds=definite
      --errors-for-leak-kinds=definite
      --suppressions="$top/tests/valgrind.supp" nbdkit) ;;
  *) echo "MULTICOPY_CHECK=$MULTICOPY_CHECK: asan, tsan or valgrind" >&2
     exit 1 ;;
esac
declare -A server_pid=()
server_order=()

_cleanup ()
{
  local rc=$? i
  # Newest first: nbdkit waits for its clients (a proxy) to go away.
  for (( i = ${#server_order[@]} - 1; i >= 0; i-- )); do
    stop_server "${server_order[i]}" 2>/dev/null || true
  done
  for f in "$tmp"/checker*; do
    [ -s "$f" ] || continue
    echo "---- $MULTICOPY_CHECK report $(basename "$f")"
    cat "$f"
    [ $rc -eq 0 ] && rc=1
  done
  if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
    for f in "$tmp"/*.log; do
      [ -f "$f" ] || continue
      echo "---- $(basename "$f") (last 25 lines)"
      tail -n 25 "$f"
    done
  fi
  [ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"
  exit $rc
}
trap _cleanup EXIT; [ -n "${KEEP_TMP:-}" ] && echo "tmp=$tmp"

skip () { echo "SKIP: $*"; exit 77; }
fail () { echo "FAIL: $*" >&2; exit 1; }
# requires CMD...: skip the test unless every CMD is installed.
requires ()
{
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || skip "$c is not installed"
  done
}

sock () { echo "$tmp/$1.sock"; }
uri () { echo "nbd+unix:///${2:-}?socket=$tmp/$1.sock"; }

# start_server NAME READY CMD...: run CMD in the background (log in
# $tmp/NAME.log) and wait until the file READY (its socket or pid file)
# exists, or fail if it dies first.
start_server ()
{
  local name=$1 ready=$2
  shift 2
  rm -f "$ready"
  "$@" >"$tmp/$name.log" 2>&1 &
  server_pid[$name]=$!
  server_order+=("$name")
  wait_ready "$name" "$ready"
}

# wait_ready NAME READY [SECONDS]: wait until the file READY exists;
# fail if the server NAME exits first, or after SECONDS (default 30).
wait_ready ()
{
  local name=$1 ready=$2 limit=${3:-30} i
  for i in $(seq $(( limit * 10 ))); do
    [ -e "$ready" ] && return 0
    if ! kill -0 "${server_pid[$name]}" 2>/dev/null; then
      wait "${server_pid[$name]}" || true
      unset "server_pid[$name]"
      cat "$tmp/$name.log" >&2
      fail "$name exited before it was ready"
    fi
    sleep 0.1
  done
  fail "$name: not ready after ${limit}s: $(tail -n 5 "$tmp/$name.log")"
}

# track_pid NAME PID: stop PID on exit like a server we started.
track_pid () { server_pid[$1]=$2; server_order+=("$1"); }

# stop_server NAME [SECONDS]: SIGTERM; the server must exit within
# SECONDS (default 30; a limit given gets 20s more under a checker),
# else it is killed and the test fails: it hung on exit.  With SECONDS,
# say how long it took.
stop_server ()
{
  local name=$1 pid=${server_pid[$1]:-} limit=${2:-30} start ms next_check=5000
  [ -n "$pid" ] || return 0
  [ -z "${2:-}" ] || [ -z "${MULTICOPY_CHECK:-}" ] || limit=$(( limit + 20 ))
  unset "server_pid[$name]"
  [ -z "${MULTICOPY_CHECK:-}" ] || wait_closed "$name"
  start=$(date +%s%N)
  kill "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null; do
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    # Every 5 s: a server may still be in its own cleanup at the first
    # look and reach the checker's exit deadlock after it.
    if [ $ms -ge $next_check ]; then
      next_check=$(( ms + 5000 ))
      if checker_exit_deadlock "$pid"; then
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        return 0
      fi
    fi
    if [ $ms -ge $(( limit * 1000 )) ]; then
      kill -9 "$pid" 2>/dev/null || true
      fail "$name did not exit within ${limit}s of SIGTERM"
    fi
    sleep 0.1
  done
  wait "$pid" 2>/dev/null || true
  [ -z "${2:-}" ] ||
    echo "$name exited $(( ($(date +%s%N) - start) / 1000000 ))ms after SIGTERM"
}

# kill_server NAME: SIGKILL, as a crash would; the server is gone.
kill_server ()
{
  kill -9 "${server_pid[$1]}"
  wait "${server_pid[$1]}" 2>/dev/null || true
  unset "server_pid[$1]"
}

# copy_outcome PID DST: nbdcopy --flush of $tmp/src.raw into the
# multicopy server mc, run by PID while upstream servers were killed:
# it must succeed with no writes lost and DST identical, or fail with
# the lost-writes report, and then give DST identical when run again.
copy_outcome ()
{
  local client=$1 dst=$2 rc=0
  timeout 120 tail --pid="$client" -f /dev/null || fail "the copy hung"
  wait "$client" || rc=$?
  if [ $rc -eq 0 ]; then
    ! grep -q 'was lost while it held writes' "$tmp/mc.log" ||
      fail "the copy succeeded although writes were lost"
    cmp "$tmp/src.raw" "$dst" || fail "the copy succeeded but the data differs"
    echo "the copy succeeded with identical data"
  else
    grep -q 'was lost while it held writes' "$tmp/mc.log" ||
      fail "the copy failed (exit $rc) without a lost-writes report"
    echo "the copy failed as it must: $(head -1 "$tmp/client.out")"
    # The job can simply be run again.
    nbdcopy --flush "$tmp/src.raw" "$(uri mc)"
    cmp "$tmp/src.raw" "$dst" || fail "the second copy differs"
    echo "running the copy again gives identical data"
  fi
}

# nbdkit 1.32 exits on SIGTERM without closing the connections still
# being torn down, and so without calling .close: a checker would see
# their handles as leaked.  Give the last client's teardown (as the
# -v log shows it) up to 10s first.
wait_closed ()
{
  local log=$tmp/$1.log i opened closed
  for i in $(seq 100); do
    opened=$(grep -cE 'debug: [a-z-]+: open readonly=' "$log" 2>/dev/null) || true
    closed=$(grep -cE 'debug: [a-z-]+: close$' "$log" 2>/dev/null) || true
    [ "${opened:-0}" -le "${closed:-0}" ] && return 0
    sleep 0.1
  done
}

# Under a preloaded sanitizer runtime, nbdkit 1.32 sometimes deadlocks
# in exit: p11-kit's destructor calls freelocale, whose lock nobody
# left will release.  Nothing of ours runs then (the plugin is cleaned
# up and unloaded), so that one hang is not a failure; any other is.
checker_exit_deadlock ()
{
  local p
  [ -n "${MULTICOPY_CHECK:-}" ] || return 1
  # With --run or -P the server is a child of the process we started.
  for p in "$1" $(pgrep -P "$1"); do
    if gdb -p "$p" -batch -ex 'thread apply all bt' 2>/dev/null |
         grep -q '__freelocale'; then
      echo "note: $MULTICOPY_CHECK: pid $p deadlocked in exit (p11-kit" \
           "freelocale); killed"
      kill -9 "$p" 2>/dev/null
      return 0
    fi
  done
  return 1
}

# nbdkit_to_end ARGS...: run nbdkit ARGS (under the checker, if any)
# until it exits, at most 30s; its output on stdout.  Returns its exit
# status, 124 if it hung, or 125 if it was stopped in the checker's
# known exit deadlock (its status is then unknown, its output whole).
nbdkit_to_end ()
{
  local out=$tmp/to-end.out pid i rc
  "${nbdkit_cmd[@]}" "$@" >"$out" 2>&1 &
  pid=$!
  for i in $(seq 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      rc=0; wait "$pid" || rc=$?
      cat "$out"
      return $rc
    fi
    if [ "$i" -eq 50 ] && checker_exit_deadlock "$pid" >&2; then
      kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
      cat "$out"
      return 125
    fi
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  cat "$out"
  return 124
}

# nbdkit_ok ARGS...: nbdkit_to_end that must succeed (or end in the
# checker's known exit deadlock, whose status is unknown); its output
# on stdout.
nbdkit_ok ()
{
  local rc=0 out
  out=$(nbdkit_to_end "$@") || rc=$?
  [ $rc -eq 0 ] || [ $rc -eq 125 ] || fail "nbdkit $* failed (rc $rc): $out"
  printf '%s\n' "$out"
}

# start_nbdkit NAME ARGS...: nbdkit in the foreground on $tmp/NAME.sock.
start_nbdkit ()
{
  local name=$1
  shift
  local cmd=(nbdkit)
  # The checkers watch our code: nbdkit processes that load it.
  [[ "$*" == *nbdkit-multicopy-* ]] && cmd=("${nbdkit_cmd[@]}")
  start_server "$name" "$(sock "$name")" \
    "${cmd[@]}" -f -v -U "$(sock "$name")" "$@"
}

# start_multicopy NAME UPSTREAM-NAME PARAMS...: the plugin in front of
# the upstream server NAME.
start_multicopy ()
{
  local name=$1 up=$2
  shift 2
  start_nbdkit "$name" "$plugin" "$(uri "$up")" "$@"
}

# start_relay NAME UPSTREAM-NAME: a relay (cutproxy.py) on
# $tmp/NAME.sock to the server UPSTREAM-NAME, that can cut connections.
start_relay ()
{
  start_server "$1" "$(sock "$1")" \
    python3 "$top/tests/fixtures/cutproxy.py" "$(sock "$1")" "$(sock "$2")"
}

# start_qemu_nbd NAME ARGS...: qemu-nbd on $tmp/NAME.sock.
start_qemu_nbd ()
{
  local name=$1
  shift
  start_server "$name" "$(sock "$name")" \
    qemu-nbd -t -k "$(sock "$name")" "$@"
}

# make_source NAME SIZE-MiB: $tmp/NAME.raw, about 60% random data and
# 40% holes (see make-source.py), and the same as $tmp/NAME.qcow2.
make_source ()
{
  "$top/tests/make-source.py" "$tmp/$1.raw" "$2"
  qemu-img convert -q -f raw -O qcow2 "$tmp/$1.raw" "$tmp/$1.qcow2"
}

# free_port: a TCP port on 127.0.0.1 that nobody listens on just now.
free_port ()
{
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# refused PATTERN NBDKIT-ARGS...: nbdkit with ARGS, serving a captive
# nbdinfo, must fail (not hang, not crash) with a message matching the
# extended regex PATTERN (any case).  Refusals before serving and at
# the first client both count.
refused ()
{
  local pattern=$1 out rc=0
  shift
  out=$(nbdkit_to_end -U - "$@" --run 'nbdinfo --size "$uri"') || rc=$?
  [ $rc -ne 124 ] || fail "hung: $*: $out"
  [ $rc -ne 0 ] || fail "accepted: $*: $out"
  ! grep -q 'killed by signal' <<<"$out" || fail "nbdkit crashed: $*: $out"
  grep -qiE -- "$pattern" <<<"$out" ||
    fail "for '$*' expected /$pattern/ in: $out"
  echo "refused: $*: $(grep -iE -- "$pattern" <<<"$out" | head -1)"
}

# client FILE.py ARGS...: a client written in Python with libnbd's
# bindings (tests/py/FILE.py), as nbdsh would run it, failing the test
# if it takes more than CLIENT_TIMEOUT seconds (default 120).
client ()
{
  local rc=0
  timeout "${CLIENT_TIMEOUT:-120}" python3 "$top/tests/py/$1" "${@:2}" ||
    rc=$?
  [ $rc -ne 124 ] || fail "$1 did not finish within ${CLIENT_TIMEOUT:-120}s"
  return $rc
}

# sha256 of an NBD export's whole content.
nbd_sha256 ()
{
  nbdcopy "$1" - | sha256sum | cut -d' ' -f1
}

# nbdcopy_4 NAME DST: copy $tmp/src.raw into DST with nbdcopy over 4
# connections, and fail unless it really used 4: it falls back to one
# when DST does not advertise multi-conn.  Its log is $tmp/NAME.log.
nbdcopy_4 ()
{
  local log=$tmp/$1.log
  nbdcopy -v --connections=4 --threads=4 --flush "$tmp/src.raw" "$2" \
    2>"$log"
  grep -q 'connections=4' "$log" ||
    fail "nbdcopy into $2 did not use 4 connections:" \
      "$(grep -o 'connections=[0-9]*' "$log" | head -1)"
}

# Count of log-filter lines of one kind per upstream connection.
log_count_by_connection ()
{
  grep -oE "connection=[0-9]+ $2 " "$1" | sort | uniq -c || true
}

# stat_sum NAME FILE: the counter NAME= summed over the connections of
# a stats=FILE (its first figure, for NAME=ops/bytes).
stat_sum ()
{
  grep -o " $1=[0-9]*" "$2" | cut -d= -f2 | paste -sd+ | bc
}
