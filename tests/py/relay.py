# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# For the clients of the reconnect tests: a client of multicopy with
# 8 stripes of random data written, and the relay (cutproxy.py) that
# can cut its upstream connections.
#
# Scripts that import it take: MULTICOPY-URI PROXY-PID PROXY-SOCKET.
import os
import signal
import sys
import time

import nbd

SEG = 65536
uri, proxy_pid, proxy_sock = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def client_with_stripes():
    """A connected handle, and the data of the 8 stripes it wrote."""
    h = nbd.NBD()
    h.connect_uri(uri)
    data = [os.urandom(SEG) for i in range(8)]
    for i in range(8):
        h.pwrite(data[i], i * SEG)
    return h, data


def cut(n):
    """Drop the relay's connection n (in accept order), both ways."""
    with open(proxy_sock + ".cut", "w") as f:
        f.write(f"{n}\n")
    os.kill(proxy_pid, signal.SIGUSR1)
    time.sleep(0.2)


def refuse(on):
    """While on, the relay closes new connections at once."""
    if on:
        open(proxy_sock + ".refuse", "w").close()
    else:
        os.unlink(proxy_sock + ".refuse")
