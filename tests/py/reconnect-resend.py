# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# A cut connection comes back: requests for its stripes wait for the
# reconnect and succeed, every byte intact; writes and flush work.
import relay

h, data = relay.client_with_stripes()
seg = relay.SEG
h.flush()
relay.cut(1)
for i in range(8):
    assert h.pread(seg, i * seg) == data[i], f"stripe {i} differs after the cut"
# New writes on every stripe, the lost one included, then a good flush.
for i in range(8):
    h.pwrite(data[i][::-1], i * seg)
h.flush()
for i in range(8):
    assert h.pread(seg, i * seg) == data[i][::-1]
print("all 8 stripes intact after the cut; writes and flush work")
