#!/usr/bin/env bash
# Upstream errors reach the client with the upstream's errno; when one
# upstream connection dies, requests for its stripes fail promptly with
# EIO while the other connections go on working; nbdkit still exits.
source "$(dirname "$0")/functions.sh"

echo "== errno passes through"
for spec in pwrite:ENOSPC pread:EIO zero:EPERM trim:EINVAL; do
  op=${spec%:*} err=${spec#*:}
  start_nbdkit up --filter=error memory 16M error="$err" "error-$op-rate=1"
  start_multicopy mc up connections=2 segment-size=64K
  OP=$op ERR=$err nbdsh -u "$(uri mc)" -c '
import errno, os
op, want = os.environ["OP"], getattr(errno, os.environ["ERR"])
call = {"pwrite": lambda: h.pwrite(b"x" * 200000, 1000),
        "pread": lambda: h.pread(200000, 1000),
        "zero": lambda: h.zero(200000, 1000),
        "trim": lambda: h.trim(200000, 1000)}[op]
try:
    call()
    raise SystemExit(f"{op} succeeded despite the error filter")
except nbd.Error as e:
    assert e.errnum == want, f"{op}: got errno {e.errnum} ({e.string}), want {want}"
    print(f"{op}: client saw {errno.errorcode[e.errnum]}")
'
  stop_server mc
  stop_server up
done

echo "== one upstream connection dies"
start_nbdkit up memory 16M
start_server proxy "$(sock proxy)" \
  python3 "$top/tests/fixtures/cutproxy.py" "$(sock proxy)" "$(sock up)"
start_multicopy mc proxy connections=4 segment-size=64K
export MC=$(uri mc) CUT=$(sock proxy).cut PROXY_PID=${server_pid[proxy]}
timeout 60 nbdsh -c '
import errno, os, signal, time
seg = 65536
h.connect_uri(os.environ["MC"])
data = [os.urandom(seg) for i in range(8)]
for i in range(8):
    h.pwrite(data[i], i * seg)
h.flush()

# Cut the relay connection that multicopy opened second.
open(os.environ["CUT"], "w").write("1\n")
os.kill(int(os.environ["PROXY_PID"]), signal.SIGUSR1)
time.sleep(0.5)

failed, worked = [], []
for i in range(8):
    t = time.monotonic()
    try:
        assert h.pread(seg, i * seg) == data[i], f"stripe {i} corrupt"
        worked.append(i)
    except nbd.Error as e:
        assert e.errnum == errno.EIO, f"stripe {i}: {e.string}"
        failed.append(i)
    assert time.monotonic() - t < 5, f"stripe {i} took too long"
# One connection of four owns stripes k and k+4.
assert len(failed) == 2 and failed[1] == failed[0] + 4, (failed, worked)
# The survivors also still take writes and flushes fail safe.
for i in worked:
    h.pwrite(data[i][::-1], i * seg)
    assert h.pread(seg, i * seg) == data[i][::-1]
try:
    h.flush()
except nbd.Error as e:
    print("flush after the loss:", e.string)
print(f"dead connection: stripes {failed} fail with EIO, {worked} work")
'
grep -E 'upstream connection [0-9] (died|was closed by the server); requests for its stripes will fail' "$tmp/mc.log" ||
  fail "the dead connection was not logged"
stop_server mc
