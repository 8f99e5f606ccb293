# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# A write that one client saw acknowledged is lost upstream before any
# flush covered it.  Every client connected at the time must see its
# next flush fail (once), and its next write (once); a client that
# connects afterwards must not.
#
#   lost-write.py URI UP SEG flush-fails FILE
#   lost-write.py URI UP SEG cut PROXY-PID CUT-FILE
# URI is the export under test, UP the upstream's own URI (to check
# that the data really is gone), SEG the stripe size.  flush-fails: the
# upstream fails a flush while FILE exists, dropping what it held; cut:
# the relay (cutproxy.py) cuts one upstream connection.
import errno
import os
import signal
import sys
import time

import nbd

uri, up, seg, how = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]


def client():
    c = nbd.NBD()
    c.connect_uri(uri)
    return c


def flush_fails(c, who):
    try:
        c.flush()
    except nbd.Error as e:
        assert e.errnum == errno.EIO, f"{who}: {e.string}"
        print(f"{who}: flush failed with EIO: {e.string}")
        return
    raise AssertionError(f"{who}: flush succeeded although acknowledged "
                         "writes were lost")


a, b = client(), client()
data = os.urandom(8 * seg)
a.pwrite(data, 0)               # acknowledged, on every connection

if how[0] == "flush-fails":
    open(how[1], "w").close()
    flush_fails(b, "B, whose own flush failed")
    os.unlink(how[1])
else:
    _, pid, cutfile = how
    open(cutfile, "w").write("1\n")
    os.kill(int(pid), signal.SIGUSR1)
    # Reads of the lost stripes wait for the reconnect.
    time.sleep(0.3)
    b.pread(8 * seg, 0)
    flush_fails(b, "B, the first to flush after the loss")

# The loss is real: the upstream does not hold all of A's data.
fresh = nbd.NBD()
fresh.connect_uri(up)
assert fresh.pread(8 * seg, 0) != data, "nothing was lost: the test is void"
fresh.shutdown()

c = client()                    # connected after the loss
flush_fails(a, "A, which wrote the lost data")
a.flush()
b.flush()
c.flush()
print("A and B were told once by a flush; C, connected after the loss, "
      "was not")


def write_fails(h, who):
    try:
        h.pwrite(data, 0)
    except nbd.Error as e:
        assert e.errnum == errno.EIO, f"{who}: {e.string}"
        print(f"{who}: write failed with EIO: {e.string}")
        return
    raise AssertionError(f"{who}: write succeeded although acknowledged "
                         "writes were lost (a client that ignores failed "
                         "flushes would never know)")


# Told by a write too, once: for clients that ignore failed flushes.
c.pwrite(data[:512], 0)
write_fails(b, "B's first write after the loss")
write_fails(a, "A's first write after the loss")
b.pwrite(data, 0)
a.pwrite(data, 0)
c.flush()
fresh = nbd.NBD()
fresh.connect_uri(up)
assert fresh.pread(8 * seg, 0) == data
print("written again and flushed: the upstream holds it")
