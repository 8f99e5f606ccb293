#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# docs/design.md, "A request, top to bottom", names each step as
# `function` (`file`): every such function must be defined (or, in a
# header, defined inline) in that file, so that the list cannot go stale
# when code moves.
source "$(dirname "$0")/functions.sh"
requires python3

python3 - "$top" <<'PY'
import re, sys
top = sys.argv[1]
doc = open(f"{top}/docs/design.md").read()
m = re.search(r"^## A request, top to bottom\n(.*?)^## ", doc, re.S | re.M)
assert m, "no section 'A request, top to bottom' in docs/design.md"
pairs = re.findall(r"`([a-z_]+)` \(`([a-z/.-]+\.[ch])`\)", m.group(1))
assert len(pairs) >= 20, f"only {len(pairs)} steps named"
bad = []
for fn, path in pairs:
    try:
        src = open(f"{top}/{path}").read()
    except OSError:
        bad.append(f"{fn} ({path}): no such file")
        continue
    if not re.search(rf"^{fn} \(", src, re.M):
        bad.append(f"{fn} ({path}): not defined there")
for b in bad:
    print("FAIL:", b)
print(f"{len(pairs) - len(bad)} of {len(pairs)} steps found where the list says")
sys.exit(1 if bad else 0)
PY
