# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# An upstream that stays down: requests for the lost stripes fail with
# EIO within reconnect-timeout=1 while the others keep working; once the
# window has passed they fail at once; when the upstream is back, they
# work again.
import errno
import time

import nbd

import relay

h, data = relay.client_with_stripes()
seg = relay.SEG
h.flush()
relay.refuse(True)
relay.cut(2)

failed = []
for i in range(8):
    t = time.monotonic()
    try:
        assert h.pread(seg, i * seg) == data[i]
        assert time.monotonic() - t < 0.5, f"stripe {i} waited"
    except nbd.Error as e:
        assert e.errnum == errno.EIO, e.string
        assert time.monotonic() - t < 4, \
            f"stripe {i} waited past reconnect-timeout="
        failed.append(i)
assert len(failed) == 2 and failed[1] == failed[0] + 4, failed
k = failed[0]
t = time.monotonic()
try:
    h.pread(seg, k * seg)
    raise SystemExit("read of a lost stripe succeeded")
except nbd.Error:
    assert time.monotonic() - t < 0.5, "a request waited again"

relay.refuse(False)
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
print("stripes", failed, "failed with EIO within reconnect-timeout=1 "
      "and came back")
