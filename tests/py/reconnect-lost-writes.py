# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# A connection cut while it held unflushed writes, over an upstream
# that really drops them: exactly that connection's stripes are lost,
# and the next flush fails with EIO, once.
import errno

import nbd

import relay

h, data = relay.client_with_stripes()
seg = relay.SEG
relay.cut(1)
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
