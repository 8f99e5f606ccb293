# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# One loss is told once to each client connected at the time, and
# never to a client that connected after it: not again after a write
# that failed while the connection was down, nor after a flush that
# was in flight when it was cut.
#
#   loss-once.py MULTICOPY-URI PROXY-PID PROXY-SOCKET write|flush
# multicopy runs connections=2 segment-size=64K reconnect-timeout=1
# behind the relay, over an upstream that drops what a connection did
# not flush (wbcache; with flush-delay for "flush").
#   write: A writes; connection 0 is cut and stays down; C connects;
#          A writes again (which fails: the connection is down).
#   flush: A writes and flushes; connection 0 is cut while the flush
#          is in flight (which fails); C connects.
# Then the upstream comes back, and the flushes of A, B and C, two
# each, must be: A fail (write) or OK (flush: its own flush told it),
# A OK, B fail, B OK, C OK, C OK.
import errno
import os
import time

import nbd

import relay

how = os.sys.argv[4]
seg = relay.SEG


def client():
    h = nbd.NBD()
    h.connect_uri(relay.uri)
    return h


def flush(h):
    try:
        h.flush()
        return "OK"
    except nbd.Error as e:
        assert e.errnum == errno.EIO, e.string
        return "EIO"


a, b = client(), client()
a.pwrite(os.urandom(4 * seg), 0)
relay.refuse(True)
if how == "write":
    relay.cut(0)
    time.sleep(0.3)
    c = client()
    try:
        a.pwrite(os.urandom(seg), 0)
        raise SystemExit("a write to a connection that is down succeeded")
    except nbd.Error as e:
        print("A's write while down failed:", e.string)
    expect = ["EIO", "OK", "EIO", "OK", "OK", "OK"]
else:
    cookie = a.aio_flush()
    time.sleep(0.3)
    relay.cut(0)
    time.sleep(0.3)
    c = client()
    while True:
        try:
            if a.aio_command_completed(cookie):
                raise SystemExit("a flush cut in flight succeeded")
        except nbd.Error as e:
            print("A's flush, cut in flight, failed:", e.string)
            break
        a.poll(100)
    expect = ["OK", "OK", "EIO", "OK", "OK", "OK"]
relay.refuse(False)
# Reads of the lost connection's stripe wait for it to come back.
deadline = time.monotonic() + 30
while True:
    try:
        a.pread(seg, 0)
        break
    except nbd.Error:
        assert time.monotonic() < deadline, "the connection did not come back"
        time.sleep(0.2)

got = [flush(h) for h in (a, a, b, b, c, c)]
print("flushes A, A, B, B, C, C:", " ".join(got))
assert got == expect, f"expected {' '.join(expect)}"
