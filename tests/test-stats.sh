#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# stats=FILE: one line per upstream connection (plugin) or context
# (filter) with requests/bytes by operation, reconnects and lost
# writes, and a balance line; rewritten while a copy runs, so that it
# can be watched, and at exit.  The numbers are what was sent.
source "$(dirname "$0")/functions.sh"
requires nbdsh nbdcopy python3

# field FILE LINE-PREFIX KEY: the value of KEY= on the line.
field ()
{
  grep "^$2 " "$1" | grep -o " $3=[^ ]*" | cut -d= -f2
}

echo "== plugin: exact counts for known writes"
# Writes take 300 ms: the 8 pieces of the first one are surely all out
# at once, even under valgrind.
start_nbdkit up --filter=delay memory 16M wdelay=300ms
start_multicopy mc up connections=4 segment-size=64K stats="$tmp/mc.stats"
nbdsh -u "$(uri mc)" -c '
h.pwrite(b"x" * (8 * 65536), 0)   # 2 stripes on each connection
h.pread(65536, 65536)             # connection 1
h.zero(65536, 3 * 65536)          # connection 3
h.flush()
'
stop_server mc
cat "$tmp/mc.stats"
[ "$(grep -c '^connection=' "$tmp/mc.stats")" -eq 4 ] || fail "not 4 lines"
for i in 0 1 2 3; do
  [ "$(field "$tmp/mc.stats" connection=$i write)" = 2/131072 ] ||
    fail "connection $i: write is not 2/131072"
  [ "$(field "$tmp/mc.stats" connection=$i flush)" = 1 ] ||
    fail "connection $i: flush is not 1"
  [ "$(field "$tmp/mc.stats" connection=$i reconnects)" = 0 ] ||
    fail "connection $i: reconnects"
done
[ "$(field "$tmp/mc.stats" connection=1 read)" = 1/65536 ] || fail "read"
[ "$(field "$tmp/mc.stats" connection=3 zero)" = 1/65536 ] || fail "zero"
grep -q '^balance=1.50 max=196608 connection=1 min=131072' "$tmp/mc.stats" ||
  fail "balance line: $(grep balance "$tmp/mc.stats")"
grep -q '^# nbdkit-multicopy plugin ' "$tmp/mc.stats" || fail "no header"
# 8 pieces at once from the first write, within the limit of 4 a
# connection it starts at; nothing left out at the end.
grep -qE '^in-flight=0 limit=[0-9]+ auto most=8$' "$tmp/mc.stats" ||
  fail "in-flight line: $(grep in-flight "$tmp/mc.stats")"
stop_server up

echo "== plugin: a fixed in-flight limit is shown, and held to"
start_nbdkit up --filter=delay memory 16M wdelay=300ms
start_multicopy mc up connections=4 segment-size=64K max-in-flight=3 \
  stats="$tmp/mc.stats"
nbdsh -u "$(uri mc)" -c 'h.pwrite(b"x" * (8 * 65536), 0)'
stop_server mc
grep -qE '^in-flight=0 limit=3 fixed most=3$' "$tmp/mc.stats" ||
  fail "in-flight line: $(grep in-flight "$tmp/mc.stats")"
stop_server up

echo "== plugin: reconnects and lost writes are counted where they happen"
start_nbdkit up "$wbcache" size=16M
start_relay proxy up
start_multicopy mc proxy connections=4 segment-size=64K stats="$tmp/mc.stats" \
  replay-buffer=0
CLIENT_TIMEOUT=60 client reconnect-lost-writes.py "$(uri mc)" \
  "${server_pid[proxy]}" "$(sock proxy)"
stop_server mc
cat "$tmp/mc.stats"
[ "$(grep -c ' reconnects=1 lost-writes=1 ' "$tmp/mc.stats")" -eq 1 ] ||
  fail "not exactly one connection with a reconnect and a lost write"
[ "$(grep -c ' reconnects=0 lost-writes=0 ' "$tmp/mc.stats")" -eq 3 ] ||
  fail "the other connections should show neither"

echo "== plugin: with the replay log, the same cut is a replay, not a loss"
start_multicopy mc proxy connections=4 segment-size=64K stats="$tmp/mc.stats"
nbdsh -u "$(uri mc)" -c '
import os, signal, time
h.pwrite(b"r" * (8 * 65536), 0)   # 2 stripes on each connection
open("'"$(sock proxy)"'.cut", "w").write("5\n")
os.kill('"${server_pid[proxy]}"', signal.SIGUSR1)
time.sleep(0.3)
assert h.pread(8 * 65536, 0) == b"r" * (8 * 65536)
h.flush()
'
stop_server mc
cat "$tmp/mc.stats"
[ "$(grep -c ' reconnects=1 lost-writes=0 replay-log=0/[0-9]* replays=1 ' \
      "$tmp/mc.stats")" -eq 1 ] ||
  fail "not exactly one connection with a reconnect and a replay"
[ "$(grep -c ' reconnects=0 lost-writes=0 replay-log=0/[0-9]* replays=0 ' \
      "$tmp/mc.stats")" -eq 3 ] ||
  fail "the other connections should show neither"
# Each log is empty at the end and held its two 64K stripes (and their
# headers) at most, never more.
for most in $(grep -oE ' replay-log=0/[0-9]+ ' "$tmp/mc.stats" | cut -d/ -f2); do
  [ "$most" -ge 65536 ] && [ "$most" -le $(( 2 * (65536 + 256) )) ] ||
    fail "a log held $most bytes at most"
done
[ "$(grep -cE ' replay-log=0/[0-9]+ ' "$tmp/mc.stats")" -eq 4 ] ||
  fail "not every log is empty at the end"
stop_server proxy
stop_server up

echo "== plugin: the file moves while a copy runs"
make_source src 64
start_nbdkit up --filter=noparallel --filter=delay memory 64M wdelay=100ms
start_multicopy mc up connections=4 segment-size=1M stats="$tmp/mc.stats"
nbdcopy --flush "$tmp/src.raw" "$(uri mc)" &
copy=$!
sleep 1.2
kill -0 $copy || fail "the copy ended before the file could be watched"
first=$(grep -c '^connection=' "$tmp/mc.stats" || true)
a=$(stat_sum write "$tmp/mc.stats")
sleep 1.5
b=$(stat_sum write "$tmp/mc.stats")
wait $copy
[ "$first" -eq 4 ] || fail "no full file during the copy"
[ "$b" -gt "$a" ] || fail "the file did not move during the copy ($a, $b)"
echo "writes seen during the copy: $a, then $b"
stop_server mc
stop_server up

echo "== filter: the same per context"
start_nbdkit fl --filter="$filter" memory 16M connections=2 \
  segment-size=64K stats="$tmp/fl.stats"
nbdsh -u "$(uri fl)" -c '
h.pwrite(b"y" * (4 * 65536), 0)
h.flush()
'
stop_server fl
cat "$tmp/fl.stats"
for i in 0 1; do
  [ "$(field "$tmp/fl.stats" context=$i write)" = 2/131072 ] ||
    fail "context $i: write is not 2/131072"
  [ "$(field "$tmp/fl.stats" context=$i flush)" = 1 ] ||
    fail "context $i: flush is not 1"
done
grep -q '^balance=1.00 ' "$tmp/fl.stats" || fail "filter balance line"
# The filter's pieces go one at a time per request: one out at most.
grep -qE '^in-flight=0 limit=[0-9]+ auto most=1$' "$tmp/fl.stats" ||
  fail "filter in-flight line: $(grep in-flight "$tmp/fl.stats")"

echo "== a file that cannot be written is refused at once"
refused "stats=$tmp/none/x.stats: cannot write" \
  "$plugin" "$(uri up 2>/dev/null)" stats="$tmp/none/x.stats"
refused "stats=$tmp/none/x.stats: cannot write" \
  --filter="$filter" memory 1M stats="$tmp/none/x.stats"
