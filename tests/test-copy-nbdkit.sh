#!/usr/bin/env bash
# qemu-img convert and nbdcopy through multicopy into nbdkit memory, with
# and without multi-conn upstream: the data arrives byte for byte, every
# upstream connection carries writes, and each stripe stays on one.
source "$(dirname "$0")/functions.sh"
requires qemu-img
requires nbdcopy

make_source "$tmp/src.qcow2" 64
qemu-img convert -q -f qcow2 -O raw "$tmp/src.qcow2" "$tmp/src.raw"
want=$(sha256sum <"$tmp/src.raw" | cut -d' ' -f1)

# Every Write/Zero/Read of stripe i on one connection, N connections used.
check_ownership ()
{
  local log=$1 seg=$2 conns=$3
  python3 - "$log" "$seg" "$conns" <<'EOF'
import re, sys
log, seg, want = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
owner, used, ours = {}, set(), []
pat = re.compile(r"connection=(\d+) (Write|Zero|Trim|Read) id=\d+ "
                 r"offset=(0x[0-9a-f]+) count=(0x[0-9a-f]+)")
for line in open(log):
    # multicopy's connections are the first to connect; later ones are
    # this test reading the upstream directly.
    m = re.search(r"connection=(\d+) Connect ", line)
    if m and len(ours) < want:
        ours.append(int(m.group(1)))
    m = pat.search(line)
    if not m or int(m.group(1)) not in ours:
        continue
    conn, op = int(m.group(1)), m.group(2)
    off, count = int(m.group(3), 16), int(m.group(4), 16)
    first, last = off // seg, (off + count - 1) // seg
    assert first == last, f"{op} {off:#x}+{count:#x} crosses a stripe"
    if owner.setdefault(first, conn) != conn:
        sys.exit(f"stripe {first} on connections {owner[first]} and {conn}")
    if op != "Read":
        used.add(conn)
assert len(used) == want, f"writes on {len(used)} connections, want {want}"
print(f"ownership ok: {len(owner)} stripes, writes on {len(used)} connections")
EOF
}

for mode in multi-conn no-multi-conn; do
  if [ $mode = multi-conn ]; then
    start_nbdkit up --filter=log memory 64M logfile="$tmp/up.log"
  else
    start_nbdkit up --filter=log --filter=multi-conn memory 64M \
      multi-conn-mode=disable logfile="$tmp/up.log"
  fi
  # multicopy first: check_ownership takes the first connections as its.
  start_multicopy mc up connections=4 segment-size=1M
  nbdinfo --json "$(uri up)" | grep -q "\"can_multi_conn\": $(
    [ $mode = multi-conn ] && echo true || echo false)" ||
    fail "upstream multi-conn is not as the test intends"
  nbdinfo --json "$(uri mc)" | grep -q '"can_multi_conn": true' ||
    fail "multicopy does not advertise multi-conn"

  echo "== $mode: qemu-img convert"
  qemu-img convert -n -W -m 8 -f qcow2 -O raw "$tmp/src.qcow2" "$(uri mc)"
  qemu-img compare -f qcow2 -F raw "$tmp/src.qcow2" "$(uri mc)"
  [ "$(nbd_sha256 "$(uri up)")" = "$want" ] ||
    fail "$mode: qemu-img: upstream content differs"
  check_ownership "$tmp/up.log" $((1 << 20)) 4

  echo "== $mode: nbdcopy --connections=4"
  nbdsh -u "$(uri mc)" -c 'h.zero(h.get_size(), 0)'
  nbdcopy -v --connections=4 --threads=4 --flush "$tmp/src.raw" "$(uri mc)" \
    2>"$tmp/nbdcopy.log"
  grep -q 'connections=4' "$tmp/nbdcopy.log" ||
    fail "nbdcopy did not use 4 connections: $(grep connections= "$tmp/nbdcopy.log")"
  [ "$(nbd_sha256 "$(uri up)")" = "$want" ] ||
    fail "$mode: nbdcopy: upstream content differs"
  check_ownership "$tmp/up.log" $((1 << 20)) 4
  flushes=$(log_count_by_connection "$tmp/up.log" Flush | wc -l)
  [ "$flushes" -eq 4 ] || fail "flush reached $flushes connections, want 4"

  stop_server mc
  stop_server up
  rm -f "$tmp/up.log"
done

# The same through a daemonized nbdkit: connections opened before the
# fork must keep working after it.
start_nbdkit up memory 64M
nbdkit -U "$(sock dmc)" -P "$tmp/dmc.pid" "$plugin" "$(uri up)" \
  connections=4 segment-size=2M
track_pid dmc "$(cat "$tmp/dmc.pid")"
qemu-img convert -n -W -m 8 -f qcow2 -O raw "$tmp/src.qcow2" "$(uri dmc)"
qemu-img compare -f qcow2 -F raw "$tmp/src.qcow2" "$(uri up)"
echo "daemonized nbdkit: copy ok"
