#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# make bench, make bench-quick: time disk copies into several kinds of
# destination, directly, through nbdkit's nbd plugin and through
# multicopy (plugin and filter), side by side in one run with
# hyperfine; then report.py turns the medians into tables and plots.
#
#   run.sh full    the whole matrix (tests/bench/plan.py): rewrites
#                  docs/benchmarks.md, its plots and docs/bench-results/
#   run.sh quick   the targets only, in a few minutes: prints them
#
# Environment:
#   BENCH_MIB      source and destination size in MiB (full 512, quick 256)
#   BENCH_ROUNDS   rounds over all configurations (default 2)
#   BENCH_RUNS     timed runs per configuration and round (default 3;
#                  the CPU-bound copies, short and noisy, get 10 turns
#                  of paired.py)
#   BENCH_OUT      where the report goes (full: docs/)
#   BENCH_CONTINUE=1  (full) go on with a run that stopped: keeps
#                  docs/bench-results/, skips the scenario/client pairs
#                  whose last round is there, adds the CPU records to
#                  those of the first sitting, and machine.txt says when
#                  each sitting began.  The code must be the same.
#   BENCH_BASELINE another build tree (a clone at another commit, after
#                  make): every multicopy configuration is also timed
#                  with its plugin and filter, as "base:NAME", in the
#                  same run, and the report gives the targets of both
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
export PATH=/usr/bin:/usr/sbin:/bin:/sbin:$PATH
export LC_ALL=C

mode=${1:-full}
case $mode in
  full) mib=${BENCH_MIB:-512} rounds=${BENCH_ROUNDS:-2}
        out=${BENCH_OUT:-$top/docs} results=$out/bench-results ;;
  quick) mib=${BENCH_MIB:-256} rounds=${BENCH_ROUNDS:-2}
         out=${BENCH_OUT:-$top/tests/bench/out} results=$out/quick ;;
  *) echo "run.sh: full or quick, not $mode" >&2; exit 2 ;;
esac
runs=${BENCH_RUNS:-3}
servers=$top/tests/bench/servers.sh

# Source and destination live in /dev/shm so that no disk is timed.
export BENCH_DIR BENCH_SIZE=${mib}M
BENCH_DIR=$(mktemp -d /dev/shm/mc-bench.XXXXXX)
trap '"$servers" stop; rm -rf "$BENCH_DIR"' EXIT
continuing=
if [ "$mode" = full ] && [ "${BENCH_CONTINUE:-}" = 1 ] &&
   [ -f "$results/machine.txt" ]; then
  continuing=1
  grep -q "^multicopy: $(nbdkit "$top/plugin/nbdkit-multicopy-plugin.so" --version | sed -n 's/^multicopy //p')\$" "$results/machine.txt" || {
    echo "bench: BENCH_CONTINUE: $results is of another version" >&2
    exit 1
  }
  echo "continued: $(date -u '+%Y-%m-%d %H:%M UTC')" >> "$results/machine.txt"
  for who in proxy dst; do
    cp "$results/$who-cpu.txt" "$BENCH_DIR/$who-cpu" 2>/dev/null || true
  done
else
  rm -rf "$results"
fi
mkdir -p "$results"

# The machine beside every figure.
[ -n "$continuing" ] || {
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "cores: $(nproc)"
  echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
  echo "memory: $(free -g | awk '/^Mem:/ {print $2}') GiB"
  echo "kernel: $(uname -r)"
  echo "nbdkit: $(nbdkit --version | head -1)"
  echo "libnbd: $(nbdcopy --version | sed -n 's/^libnbd //p' | head -1)"
  echo "qemu: $(qemu-img --version | head -1)"
  echo "multicopy: $(nbdkit "$top/plugin/nbdkit-multicopy-plugin.so" --version | sed -n 's/^multicopy //p')"
  echo "size: $mib MiB"
  echo "runs: $rounds rounds x $runs runs per configuration"
} > "$results/machine.txt"

echo "bench: making a ${mib} MiB source (60% data, 40% holes)"
"$top/tests/make-source.py" "$BENCH_DIR/src.raw" "$mib"
qemu-img convert -q -f raw -O qcow2 "$BENCH_DIR/src.raw" "$BENCH_DIR/src.qcow2"
# What servers.sh writes into a memory destination before each copy,
# so that its pages are mapped: all data, no zeroes.
head -c "${mib}M" /dev/urandom > "$BENCH_DIR/fill.raw"
client_uri="nbd+unix:///?socket=$BENCH_DIR/client.sock"

client_cmd ()
{
  case $1 in
    qemu-img-m8) echo "qemu-img convert -n -W -m 8 -f qcow2 -O raw" \
                      "$BENCH_DIR/src.qcow2 '$client_uri'" ;;
    qemu-img-m16) echo "qemu-img convert -n -W -m 16 -f qcow2 -O raw" \
                       "$BENCH_DIR/src.qcow2 '$client_uri'" ;;
    nbdcopy) echo "nbdcopy --flush $BENCH_DIR/src.raw '$client_uri'" ;;
    # fio checks what it wrote (and fails if it differs).
    fio-randwrite) echo "fio --name=randwrite --ioengine=nbd" \
                        "--uri='$client_uri' --rw=randwrite --bs=64k" \
                        "--iodepth=16 --numjobs=8 --size=$(( mib / 8 ))M" \
                        "--offset_increment=$(( mib / 8 ))M --verify=crc32c" \
                        "--verify_state_save=0" \
                        "--group_reporting >/dev/null" ;;
    # A fixed number of requests, so that the time says the IOPS.
    fio-4k-1|fio-4k-4)
      local jobs=${1#fio-4k-}
      echo "fio --name=small --ioengine=nbd --uri='$client_uri'" \
           "--rw=randwrite --bs=4k --iodepth=32 --numjobs=$jobs" \
           "--size=$(( mib / jobs ))M --offset_increment=$(( mib / jobs ))M" \
           "--number_ios=$(( 40000 / jobs )) --norandommap" \
           "--group_reporting >/dev/null" ;;
    fio-fsync)
      echo "fio --name=fsync --ioengine=nbd --uri='$client_uri'" \
           "--rw=randwrite --bs=4k --iodepth=1 --numjobs=4 --fsync=1" \
           "--size=$(( mib / 4 ))M --offset_increment=$(( mib / 4 ))M" \
           "--number_ios=2500 --norandommap --group_reporting >/dev/null" ;;
  esac
}

# How a configuration's servers start (hyperfine's --prepare).
prepare_cmd ()
{
  local scenario=$1 client=$2 name=$3 route=$4 conns=$5 seg=$6 opts=$7
  [ "$seg" = - ] && seg=
  local params= build=
  [ "$opts" = - ] && opts= || opts=${opts//_/ }
  [ "${name#base:}" = "$name" ] ||
    build="MULTICOPY_PLUGIN=$BENCH_BASELINE/plugin/nbdkit-multicopy-plugin.so MULTICOPY_FILTER=$BENCH_BASELINE/filter/nbdkit-multicopy-filter.so"
  # nbdkit options start with "-"; the rest are the plugin's parameters.
  [ "${opts#-}" != "$opts" ] || { params=$opts; opts=; }
  echo "$build BENCH_LABEL='$scenario $client $name' MULTICOPY_NBDKIT_OPTS='$opts'" \
       "MULTICOPY_PARAMS='$params' $servers start $scenario $route $conns $seg"
}

# Through multicopy with its defaults, checked byte for byte before
# anything is timed: a benchmark of a broken copy measures nothing.
verify ()
{
  local scenario=$1 client=$2
  # fio verifies every copy it times; the small requests are no copy.
  [ "${client#fio-}" = "$client" ] || return 0
  # Reading the copy back over one capped connection would take longer
  # than the scenario; the same copies are checked in the others.
  [ "$scenario" != capped ] || return 0
  "$servers" start "$scenario" multicopy
  eval "$(client_cmd "$client")" >/dev/null
  qemu-img compare -q -f raw -F raw "$BENCH_DIR/src.raw" \
    "nbd+unix:///?socket=$BENCH_DIR/dst.sock" || {
    echo "bench: $scenario/$client: the copy differs from the source" >&2
    exit 1
  }
  "$servers" stop
}

# How often each client's requests cross stripe boundaries: one copy
# of each, straight into a log filter.
crossings ()
{
  local client logs=()
  for client in qemu-img-m8 qemu-img-m16 nbdcopy; do
    rm -f "$BENCH_DIR/client.sock"
    nbdkit -U "$BENCH_DIR/client.sock" -P "$BENCH_DIR/log.pid" \
      --filter=log memory "$BENCH_SIZE" logfile="$BENCH_DIR/$client.log"
    eval "$(client_cmd "$client")" >/dev/null
    kill "$(cat "$BENCH_DIR/log.pid")"
    while kill -0 "$(cat "$BENCH_DIR/log.pid")" 2>/dev/null; do sleep 0.1; done
    logs+=("$client=$BENCH_DIR/$client.log")
  done
  "$top/tests/bench/crossings.py" "${logs[@]}" --json "$results/crossings.json"
}

plan=$("$top/tests/bench/plan.py" "$mode")
if [ -n "${BENCH_BASELINE:-}" ]; then
  [ -f "$BENCH_BASELINE/plugin/nbdkit-multicopy-plugin.so" ] || {
    echo "bench: BENCH_BASELINE=$BENCH_BASELINE has no built plugin" >&2
    exit 1
  }
  plan=$(awk '{ print }
              $4 == "multicopy" || $4 == "filter" { $3 = "base:" $3; print }' \
           <<<"$plan")
fi
[ "$mode" = quick ] || [ -f "$results/crossings.json" ] || crossings
for pair in $(awk '{print $1 "/" $2}' <<<"$plan" | uniq); do
  scenario=${pair%/*} client=${pair#*/}
  [ -z "$continuing" ] ||
    [ ! -f "$results/$scenario-$client-r$rounds.json" ] || continue
  echo "bench: $scenario, $client"
  verify "$scenario" "$client"
  args=() pargs=()
  while read -r s c name route conns seg opts; do
    [ "$s/$c" = "$pair" ] || continue
    prep=$(prepare_cmd "$s" "$c" "$name" "$route" "$conns" "$seg" "$opts")
    args+=(-n "$name" --prepare "$prep" "$(client_cmd "$client")")
    pargs+=("$name" "$prep" "$(client_cmd "$client")")
  done <<<"$plan"
  # hyperfine times one configuration's runs back to back; rounds
  # interleave the configurations, so that a slow minute of this
  # (shared, noisy) machine does not land on one of them only.  The
  # CPU-bound copies are short and their differences smaller than that
  # drift (and so are the small requests): paired.py runs each
  # configuration once per turn, in a new
  # order each turn, so that report.py can compare them turn by turn.
  # The source is in /dev/shm, so no warm-up run is needed.
  for round in $(seq "$rounds"); do
    json=$results/$scenario-$client-r$round.json
    if [ "$scenario" = cpu ] || [ "$scenario" = small ] ||
       [ "$scenario" = fsync ]; then
      "$top/tests/bench/paired.py" "$(( runs > 10 ? runs : 10 ))" "$json" \
        "$servers stop" "${pargs[@]}"
    else
      hyperfine --style basic -r "$runs" --cleanup "$servers stop" \
        --export-json "$json" "${args[@]}" |
        grep -E '^Benchmark|Time \(' || true
    fi
  done
done
for who in proxy dst; do
  cp "$BENCH_DIR/$who-cpu" "$results/$who-cpu.txt" 2>/dev/null || true
done

"$top/tests/bench/report.py" "$mode" "$results" "$out"
