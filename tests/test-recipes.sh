#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# Every recipe of docs/recipes.md, run as written: /var/tmp/mc becomes
# a directory of the test's, target-host 127.0.0.1, port 10809 a free
# one, and multicopy this tree's plugin and filter.  Each recipe ends
# by checking its copy (qemu-img compare or cmp).
source "$(dirname "$0")/functions.sh"
requires qemu-img qemu-nbd qemu-storage-daemon nbdcopy python3 \
  systemd-socket-activate

# The recipes run nbdkit as a user would, which a checker's build of
# the plugin cannot be loaded into (and its stop would meet the
# checkers' exit deadlock).
[ -z "${MULTICOPY_CHECK:-}" ] ||
  skip "the recipes run plain nbdkit, not under $MULTICOPY_CHECK"

recipes=$top/docs/recipes.md
make_source disk 64

run_recipe ()
{
  local n=$1 dir=$tmp/r$1 port
  port=$(free_port)
  mkdir "$dir"
  cp "$tmp/disk.qcow2" "$tmp/disk.raw" "$dir/"
  "$top/tests/recipes.py" "$recipes" script "$n" |
    sed -E "s#/var/tmp/mc#$dir#g; s#target-host#127.0.0.1#g;
            s#10809#$port#g; s#--filter=multicopy#--filter=$filter#g;
            s#(^| )multicopy( |$)#\1$plugin\2#g" >"$dir/recipe.sh"
  echo "== recipe $n"
  if ! (cd "$dir" && timeout 120 bash -euo pipefail -x recipe.sh) \
       >"$dir/out.log" 2>&1; then
    # Whatever it left running.
    for p in "$dir"/*.pid; do
      [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null
    done
    cat "$dir/out.log"
    fail "recipe $n failed"
  fi
  grep -E 'identical|^connection=' "$dir/out.log" || true
}

for n in $("$top/tests/recipes.py" "$recipes" list); do
  run_recipe "$n"
done

# The unit's ExecStart is the command the recipe checks.
exec_start=$("$top/tests/recipes.py" "$recipes" execstart 6)
grep -qF -- "systemd-socket-activate -l /var/tmp/mc/mc.sock" "$recipes" &&
  grep -qF -- "  ${exec_start#/usr/bin/} &" "$recipes" ||
  fail "the unit's ExecStart ($exec_start) is not what recipe 6 runs"
echo "recipe 6 runs its unit's ExecStart"
