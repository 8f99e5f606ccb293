# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# The upstream's log (--filter=log) after ops.py: the flags arrived as
# sent, on every piece.
#
#   ops-log.py LOG STRIPE-SIZE
import re
import sys

seg = int(sys.argv[2])
ops = {}
pat = re.compile(r"connection=\d+ (Write|Zero|Trim|Read|Cache|Extents) "
                 r"id=\d+ offset=(0x[0-9a-f]+) count=0x[0-9a-f]+(.*)")
for line in open(sys.argv[1]):
    m = pat.search(line)
    if m:
        ops.setdefault(m.group(1), []).append((int(m.group(2), 16), m.group(3)))
def flags_at(op, off):
    return [r for o, r in ops[op] if o == off][0]
assert "fua=1" in flags_at("Write", 5 * seg - 3) and "fua=1" in flags_at("Write", 5 * seg)
assert "fua=0" in flags_at("Write", 7 * seg + 11)
assert "trim=1 fua=0 fast=0" in flags_at("Zero", 20 * seg + 512)
assert "trim=0 fua=0 fast=0" in flags_at("Zero", 24 * seg - 100)
assert "trim=0 fua=0 fast=0" in flags_at("Zero", 24 * seg)
assert "fast=1" in flags_at("Zero", 26 * seg + 4096)
assert "fua=1" in flags_at("Zero", 28 * seg + 1) and "fua=1" in flags_at("Zero", 31 * seg)
assert len([o for o, r in ops["Trim"]]) == 2
assert len([o for o, r in ops["Cache"]]) == 6, ops["Cache"]
print(f"log: {sum(map(len, ops.values()))} pieces, flags as sent")
