#!/usr/bin/env bash
# Losing an upstream connection.  What the client must see:
#  A. a connection cut after a flush: requests for its stripes wait for
#     the reconnect and succeed, every byte intact, the next flush good;
#  B. a connection cut while it held unflushed writes (an upstream that
#     really drops them): the next flush fails with EIO, and only once;
#  C. an upstream that stays down: requests for the lost stripes fail
#     with EIO after reconnect-timeout= seconds (the others keep working), and work
#     again once it is back.
source "$(dirname "$0")/functions.sh"

seg=65536
start_relay ()
{
  start_server proxy "$(sock proxy)" \
    python3 "$top/tests/fixtures/cutproxy.py" "$(sock proxy)" "$(sock up)"
}
export MC=$(uri mc) CUT=$(sock proxy).cut REFUSE=$(sock proxy).refuse

# Each section's client starts so: 8 stripes of random data written
# through multicopy, and cut(N) drops the relay's connection N.
prelude='
import errno, os, signal, time
seg = 65536
h.connect_uri(os.environ["MC"])
data = [os.urandom(seg) for i in range(8)]
for i in range(8):
    h.pwrite(data[i], i * seg)
def cut(n):
    open(os.environ["CUT"], "w").write(f"{n}\n")
    os.kill(int(os.environ["PROXY_PID"]), signal.SIGUSR1)
    time.sleep(0.2)
'

echo "== A. a cut connection comes back; flushed data intact"
start_nbdkit up memory 16M
start_relay
start_multicopy mc proxy connections=4 segment-size=64K
export PROXY_PID=${server_pid[proxy]}
timeout 60 nbdsh -c "$prelude" -c '
h.flush()
cut(1)
for i in range(8):
    assert h.pread(seg, i * seg) == data[i], f"stripe {i} differs after the cut"
# New writes on every stripe, the lost one included, then a good flush.
for i in range(8):
    h.pwrite(data[i][::-1], i * seg)
h.flush()
for i in range(8):
    assert h.pread(seg, i * seg) == data[i][::-1]
print("all 8 stripes intact after the cut; writes and flush work")
'
grep -E 'upstream connection [0-9]: reconnected after' "$tmp/mc.log" ||
  fail "no reconnect was logged"
stop_server mc
stop_server proxy
stop_server up

echo "== B. unflushed writes on a lost connection: the next flush fails"
start_nbdkit up "$wbcache" size=16M
start_relay
start_multicopy mc proxy connections=4 segment-size=64K
export PROXY_PID=${server_pid[proxy]}
timeout 60 nbdsh -c "$prelude" -c '
# No flush: the wbcache upstream drops what connection 1 held.
cut(1)
lost = [i for i in range(8) if h.pread(seg, i * seg) != data[i]]
# One connection of four owns stripes k and k+4.
assert len(lost) == 2 and lost[1] == lost[0] + 4, f"lost upstream: {lost}"
try:
    h.flush()
    raise SystemExit("flush succeeded although acknowledged writes were lost")
except nbd.Error as e:
    assert e.errnum == errno.EIO, e.string
    print("first flush after the loss:", e.string)
h.flush()
print("second flush succeeds; stripes", lost, "were really lost upstream")
'
grep -q 'was lost while it held writes that no flush had covered' \
  "$tmp/mc.log" || fail "the lost writes were not logged"
stop_server mc
stop_server proxy
stop_server up

echo "== C. an upstream that stays down: EIO after reconnect-timeout=, back later"
start_nbdkit up memory 16M
start_relay
start_multicopy mc proxy connections=4 segment-size=64K reconnect-timeout=1
export PROXY_PID=${server_pid[proxy]}
timeout 90 nbdsh -c "$prelude" -c '
h.flush()
open(os.environ["REFUSE"], "w").close()
cut(2)

failed = []
for i in range(8):
    t = time.monotonic()
    try:
        assert h.pread(seg, i * seg) == data[i]
        assert time.monotonic() - t < 0.5, f"stripe {i} waited"
    except nbd.Error as e:
        assert e.errnum == errno.EIO, e.string
        assert time.monotonic() - t < 4, f"stripe {i} waited past reconnect-timeout="
        failed.append(i)
assert len(failed) == 2 and failed[1] == failed[0] + 4, failed
k = failed[0]
# Once the retry window has passed, the lost stripes fail at once.
t = time.monotonic()
try:
    h.pread(seg, k * seg)
    raise SystemExit("read of a lost stripe succeeded")
except nbd.Error:
    assert time.monotonic() - t < 0.5, "a request waited again"

os.unlink(os.environ["REFUSE"])
deadline = time.monotonic() + 30
while True:
    try:
        assert h.pread(seg, k * seg) == data[k]
        break
    except nbd.Error:
        assert time.monotonic() < deadline, "the connection never came back"
        time.sleep(0.2)
for i in range(8):
    assert h.pread(seg, i * seg) == data[i]
h.flush()
print("stripes", failed, "failed with EIO within reconnect-timeout=1 and came back")
'
grep -q 'still down after reconnect-timeout=1.000s' "$tmp/mc.log" ||
  fail "giving up was not logged"
stop_server mc

echo "== D. the upstream killed and restarted in the middle of a copy"
# nbdcopy --flush, not qemu-img: qemu-img convert (7.2) exits 0 even
# when its final flush fails, so it would report a copy as good that
# the plugin has said may not be.
truncate -s 64M "$tmp/dst.img"
make_source "$tmp/src.qcow2" 64
qemu-img convert -q -f qcow2 -O raw "$tmp/src.qcow2" "$tmp/src.raw"
start_up_file ()
{
  rm -f "$(sock up)"
  # One request at a time per connection, 30ms each: the copy takes
  # a few seconds, so that the kill lands in its middle.
  start_nbdkit up --filter=noparallel --filter=delay file "$tmp/dst.img" \
    wdelay=30ms
}
start_up_file
start_multicopy mc up connections=4 segment-size=256K reconnect-timeout=30
nbdcopy --flush "$tmp/src.raw" "$(uri mc)" >"$tmp/client.out" 2>&1 &
client=$!
sleep 0.7
kill -0 $client 2>/dev/null ||
  fail "the copy finished before the upstream was killed"
kill -9 "${server_pid[up]}"
wait "${server_pid[up]}" 2>/dev/null || true
unset "server_pid[up]"
sleep 0.5
start_up_file
rc=0
timeout 120 tail --pid=$client -f /dev/null || fail "the copy hung"
wait $client || rc=$?
if [ $rc -eq 0 ]; then
  # Allowed only if nothing unflushed was on a lost connection.
  ! grep -q 'was lost while it held writes' "$tmp/mc.log" ||
    fail "the copy succeeded although writes were lost"
  cmp "$tmp/src.raw" "$tmp/dst.img" ||
    fail "the copy succeeded but the data differs"
  echo "the copy succeeded with identical data"
else
  grep -q 'was lost while it held writes' "$tmp/mc.log" ||
    fail "the copy failed (exit $rc) without a lost-writes report"
  echo "the copy failed as it must: $(head -1 "$tmp/client.out")"
  # The job can simply be run again.
  nbdcopy --flush "$tmp/src.raw" "$(uri mc)"
  cmp "$tmp/src.raw" "$tmp/dst.img" || fail "the second copy differs"
  echo "running the copy again gives identical data"
fi
grep -cE 'upstream connection [0-9]: reconnected' "$tmp/mc.log" |
  { read -r n; [ "$n" -ge 1 ] || fail "no reconnect logged"; echo "$n reconnects"; }
stop_server mc
