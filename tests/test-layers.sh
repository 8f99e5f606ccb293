#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# The modules of the plugin and of the filter call each other in one
# direction only: their includes form no circle; and every .c file has
# a header of its own (the callback files excepted).
source "$(dirname "$0")/functions.sh"
requires python3

cd "$top"
tests/include-graph.py plugin filter
for c in plugin/*.c filter/*.c; do
  case $c in
    plugin/multicopy.c|filter/multicopy-filter.c) continue ;;
  esac
  [ -f "${c%.c}.h" ] || fail "$c has no header of its own"
done
echo "every module has its own header"
