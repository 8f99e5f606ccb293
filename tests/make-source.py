#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# make-source.py RAW-FILE SIZE-MiB: a sparse raw image about 60% random
# data and 40% holes, with data runs that start and end off the MiB
# grid.  Seeded by the size, so the layout (not the bytes) repeats.
import os
import random
import sys

path, mib = sys.argv[1], int(sys.argv[2])
random.seed(mib)
with open(path, "wb") as f:
    f.truncate(mib << 20)
    for i in range(mib):
        if i % 5 in (1, 3):
            continue                    # a hole
        start = (i << 20) + (random.randrange(0, 64) << 12 if i % 7 == 0 else 0)
        end = (i + 1) << 20
        f.seek(start)
        f.write(os.urandom(end - start))
