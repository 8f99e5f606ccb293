#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# stats-format=prometheus: stats=FILE in Prometheus's text format, as
# node_exporter's textfile collector reads it.  The file passes
# promtool check metrics (where prometheus is installed) and our own
# reader of the format (always), and holds what was really sent.
source "$(dirname "$0")/functions.sh"
requires nbdsh python3

# check FILE: the format is right; the samples go to FILE.samples.
check ()
{
  if command -v promtool >/dev/null; then
    promtool check metrics < "$1" || fail "promtool: $1"
    echo "promtool check metrics: ok"
  else
    echo "promtool is not installed (package prometheus): our reader only"
  fi
  python3 "$top/tests/prom-check.py" "$1" > "$1.samples" ||
    fail "prom-check.py: $1"
}

# value FILE NAME LABELS...: the one sample of NAME with exactly those
# labels (LABEL=VALUE, in the file's order; file= comes first).
value ()
{
  local f=$1 name=$2 line
  shift 2
  line="$name file=$(basename "$f")"
  [ $# -eq 0 ] || line+=" $*"
  awk -v l="$line" 'substr ($0, 1, length (l) + 1) == l " " &&
                    split (substr ($0, length (l) + 2), a, " ") == 1 {
                      print a[1]
                    }' "$f.samples"
}

# The reader itself refuses what promtool refuses.
printf '# HELP foo A thing.\n# TYPE foo counter\nfoo 1\n' > "$tmp/bad.prom"
! python3 "$top/tests/prom-check.py" "$tmp/bad.prom" 2>/dev/null ||
  fail "prom-check.py took a counter without _total"
printf '# HELP foo_total A thing.\n# TYPE foo_total counter\nfoo_total{a="b} 1\n' \
  > "$tmp/bad.prom"
! python3 "$top/tests/prom-check.py" "$tmp/bad.prom" 2>/dev/null ||
  fail "prom-check.py took a broken label"

echo "== plugin: exact figures for known requests"
start_nbdkit up --filter=delay memory 16M wdelay=300ms
start_multicopy mc up connections=4 segment-size=64K \
  stats="$tmp/mc.prom" stats-format=prometheus
nbdsh -u "$(uri mc)" -c '
h.pwrite(b"x" * (8 * 65536), 0)   # 2 stripes on each connection
h.pread(65536, 65536)             # connection 1
h.zero(65536, 3 * 65536)          # connection 3
h.flush()
'
stop_server mc
stop_server up
check "$tmp/mc.prom"
p=nbdkit_multicopy
version=$(sed -n 's/^VERSION *= *//p' "$top/Makefile")
[ "$(value "$tmp/mc.prom" ${p}_info front=plugin version=$version)" = 1 ] ||
  fail "info: $(grep _info "$tmp/mc.prom")"
for i in 0 1 2 3; do
  c="connection=$i server=0"
  [ "$(value "$tmp/mc.prom" ${p}_requests_total $c op=write)" = 2 ] ||
    fail "connection $i: not 2 writes"
  [ "$(value "$tmp/mc.prom" ${p}_bytes_total $c op=write)" = 131072 ] ||
    fail "connection $i: not 131072 bytes written"
  [ "$(value "$tmp/mc.prom" ${p}_requests_total $c op=flush)" = 1 ] ||
    fail "connection $i: not 1 flush"
  [ "$(value "$tmp/mc.prom" ${p}_reconnects_total $c)" = 0 ] ||
    fail "connection $i: reconnects"
  [ "$(value "$tmp/mc.prom" ${p}_lost_writes_total $c)" = 0 ] ||
    fail "connection $i: lost writes"
  [ "$(value "$tmp/mc.prom" ${p}_replay_log_bytes $c)" = 0 ] ||
    fail "connection $i: the log is not empty after the flush"
  [ "$(value "$tmp/mc.prom" ${p}_replay_log_most_bytes $c)" -ge 131072 ] ||
    fail "connection $i: the log never held its writes"
done
[ "$(value "$tmp/mc.prom" ${p}_bytes_total connection=1 server=0 op=read)" = 65536 ] ||
  fail "read"
[ "$(value "$tmp/mc.prom" ${p}_bytes_total connection=3 server=0 op=zero)" = 65536 ] ||
  fail "zero"
[ "$(value "$tmp/mc.prom" ${p}_balance_ratio)" = 1.500 ] || fail "balance"
[ "$(value "$tmp/mc.prom" ${p}_in_flight)" = 0 ] || fail "in flight"
[ "$(value "$tmp/mc.prom" ${p}_in_flight_most)" = 8 ] || fail "most in flight"
[ -n "$(value "$tmp/mc.prom" ${p}_in_flight_limit mode=auto)" ] ||
  fail "no auto limit"
# Every counter the text format has, no more and no fewer series.
[ "$(grep -c "^${p}_requests_total " "$tmp/mc.prom.samples")" -eq 28 ] ||
  fail "not 4 x 7 request series"

echo "== plugin: two servers are told apart"
start_nbdkit up1 memory 16M
start_nbdkit up2 memory 16M
start_nbdkit mc "$plugin" "$(uri up1)" "$(uri up2)" connections=2 segment-size=64K \
  stats="$tmp/two.prom" stats-format=prometheus max-in-flight=5
nbdsh -u "$(uri mc)" -c 'h.pwrite(b"z" * (2 * 65536), 0); h.flush()'
stop_server mc
check "$tmp/two.prom"
[ "$(value "$tmp/two.prom" ${p}_bytes_total connection=1 server=1 op=write)" = 65536 ] ||
  fail "connection 1 is not server 1's"
[ "$(value "$tmp/two.prom" ${p}_in_flight_limit mode=fixed)" = 5 ] ||
  fail "a fixed limit is one over all servers: $(grep in_flight_limit "$tmp/two.prom")"
stop_server up1
stop_server up2

echo "== filter: the same per context"
start_nbdkit fl --filter="$filter" memory 16M connections=2 \
  segment-size=64K stats="$tmp/fl.prom" stats-format=prometheus
nbdsh -u "$(uri fl)" -c 'h.pwrite(b"y" * (4 * 65536), 0); h.flush()'
stop_server fl
check "$tmp/fl.prom"
for i in 0 1; do
  [ "$(value "$tmp/fl.prom" ${p}_bytes_total context=$i op=write)" = 131072 ] ||
    fail "context $i: not 131072 bytes written"
done
[ "$(value "$tmp/fl.prom" ${p}_info front=filter version=$version)" = 1 ] ||
  fail "filter info"
! grep -q "reconnects_total\|replay" "$tmp/fl.prom" ||
  fail "the filter shows series that mean nothing for it"

echo "== wrong uses are refused, naming the parameter"
start_nbdkit up memory 1M
refused "stats-format=bogus: must be text or prometheus" \
  "$plugin" "$(uri up)" stats="$tmp/x.prom" stats-format=bogus
refused "stats-format=prometheus: give stats=FILE too" \
  "$plugin" "$(uri up)" stats-format=prometheus
refused "stats-format=bogus: must be text or prometheus" \
  --filter="$filter" memory 1M stats="$tmp/x.prom" stats-format=bogus
refused "stats-format=prometheus: give stats=FILE too" \
  --filter="$filter" memory 1M stats-format=prometheus
stop_server up
echo ok
