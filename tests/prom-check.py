#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# A reader of Prometheus's text exposition format, strict enough to
# check stats-format=prometheus where promtool is not installed, and to
# pick values out of the file for a test.
#
#   prom-check.py FILE
#       Checks FILE and prints each sample as one line:
#       NAME LABEL=VALUE ... SAMPLE-VALUE (labels in the file's order).
#       Exits 1 naming the first problem: a line that does not parse, a
#       sample without HELP and TYPE before it, a name or a TYPE seen
#       twice, a counter not ending in _total, a repeated label, a
#       value that is not a number, the same series twice.

import math
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
HELP = re.compile(r"# HELP (%s) (.*)$" % NAME)
TYPE = re.compile(r"# TYPE (%s) (counter|gauge|histogram|summary|untyped)$"
                  % NAME)
SAMPLE = re.compile(r"(%s)(?:\{(.*)\})? (\S+)$" % NAME)
PAIR = re.compile(r'(%s)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)' % LABEL)


def labels(text, where):
    out, pos = [], 0
    while pos < len(text):
        m = PAIR.match(text, pos)
        if not m:
            sys.exit("%s: bad labels at %r" % (where, text[pos:]))
        out.append((m.group(1), m.group(2)))
        pos = m.end()
    names = [k for k, _ in out]
    if len(set(names)) != len(names):
        sys.exit("%s: a label repeated" % where)
    return out


def check(path):
    helps, types, seen, samples = set(), {}, set(), []
    for n, line in enumerate(open(path), 1):
        line = line.rstrip("\n")
        where = "%s:%d" % (path, n)
        if line.startswith("# HELP "):
            m = HELP.match(line)
            if not m or m.group(1) in helps:
                sys.exit("%s: bad or repeated HELP" % where)
            helps.add(m.group(1))
        elif line.startswith("# TYPE "):
            m = TYPE.match(line)
            if not m or m.group(1) in types:
                sys.exit("%s: bad or repeated TYPE" % where)
            if m.group(2) == "counter" and not m.group(1).endswith("_total"):
                sys.exit("%s: counter %s does not end in _total"
                         % (where, m.group(1)))
            types[m.group(1)] = m.group(2)
        elif line.startswith("#") or line == "":
            continue
        else:
            m = SAMPLE.match(line)
            if not m:
                sys.exit("%s: not a sample: %r" % (where, line))
            name = m.group(1)
            if name not in helps or name not in types:
                sys.exit("%s: %s has no HELP or TYPE before it"
                         % (where, name))
            ls = labels(m.group(2) or "", where)
            try:
                v = float(m.group(3))
            except ValueError:
                sys.exit("%s: value %r" % (where, m.group(3)))
            if math.isnan(v) or (types[name] == "counter" and v < 0):
                sys.exit("%s: value %r" % (where, m.group(3)))
            key = (name, tuple(sorted(ls)))
            if key in seen:
                sys.exit("%s: the same series twice" % where)
            seen.add(key)
            samples.append((name, ls, m.group(3)))
    if not samples:
        sys.exit("%s: no samples" % path)
    for name, ls, v in samples:
        print(" ".join([name] + ["%s=%s" % kv for kv in ls] + [v]))


if __name__ == "__main__":
    check(sys.argv[1])
