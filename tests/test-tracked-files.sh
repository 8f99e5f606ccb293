#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# The tree holds only what was meant to be committed: no tracked file
# is one that .gitignore ignores (build, test and bench output), and
# the top level holds the project's own names only.  A tool's output
# lands there by accident (fio's verify state files once did, and were
# committed with the change beside them).
source "$(dirname "$0")/functions.sh"
requires git

git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
  skip "not a git checkout (a tarball from make dist): nothing to check"

ignored=$(git -C "$top" ls-files -ci --exclude-standard)
[ -z "$ignored" ] || fail "tracked, though .gitignore ignores them: $ignored"

expected=".ci .gitignore LICENSE Makefile README.md build-aux common debian
docs filter nbdkit-multicopy.pod plugin tests"
stray=$(git -C "$top" ls-files | sed 's,/.*,,' | sort -u |
        grep -vxF -f <(tr ' ' '\n' <<<"$expected") || true)
[ -z "$stray" ] || fail "tracked at the top level, and not one of the \
project's own (add it to this test if it is meant to be there): $stray"

# The same for what a build, make check or make bench left untracked
# at the top level: it belongs in .gitignore, or elsewhere.
loose=$(git -C "$top" ls-files -o --exclude-standard | grep -v / || true)
[ -z "$loose" ] || fail "left at the top level, neither tracked nor \
ignored: $loose"
echo "the tree holds only the project's own files"
