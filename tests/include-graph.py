#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# The modules of a directory (x.c with its x.h) and which others each
# one uses, by its #include "..." lines: fails if they form a circle.
#
#   include-graph.py DIR...
#
# A header without a .c of its own (data or inline helpers) is a leaf
# of the module graph like any other header.

import os
import re
import sys


def modules(dirs):
    uses = {}
    for d in dirs:
        for f in sorted(os.listdir(d)):
            name, ext = os.path.splitext(f)
            if ext not in (".c", ".h"):
                continue
            deps = uses.setdefault((d, name), set())
            for line in open(os.path.join(d, f)):
                m = re.match(r'#include "([^"]+)\.h"', line)
                if m and m.group(1) != name:
                    deps.add(m.group(1))
    # Resolve names to modules of the same directory first.
    graph = {}
    for (d, name), deps in uses.items():
        key = f"{os.path.basename(d)}/{name}"
        graph[key] = set()
        for dep in deps:
            target = (d, dep) if (d, dep) in uses else None
            if target is None:
                for (d2, n2) in uses:
                    if n2 == dep:
                        target = (d2, n2)
            if target:
                graph[key].add(f"{os.path.basename(target[0])}/{target[1]}")
    return graph


def find_circle(graph):
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                c = visit(m)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            c = visit(n)
            if c:
                return c
    return None


if __name__ == "__main__":
    for d in sys.argv[1:]:
        g = modules([d, "common"])
        c = find_circle(g)
        if c:
            sys.exit(f"{d}: modules in a circle: {' -> '.join(c)}")
        print(f"{d}: {len([n for n in g if n.startswith(os.path.basename(d))])}"
              " modules, no circle")
