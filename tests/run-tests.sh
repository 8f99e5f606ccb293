#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# Run the unit tests and every tests/test-*.sh, each bounded in time,
# with its output in tests/logs/.  Ends with one summary line:
#   N passed, N failed[, N skipped]
# Arguments, if any, select tests by name (test-params, test-stripe...).

cd "$(dirname "$0")/.." || exit 1
mkdir -p tests/logs

limit=${TEST_TIMEOUT:-600}
tests=(tests/test-stripe tests/test-flow-limit tests/test-replay-log)
for t in tests/test-*.sh; do tests+=("$t"); done
if [ $# -gt 0 ]; then
  selected=()
  for want in "$@"; do
    found=
    for t in "${tests[@]}"; do
      [ "$(basename "$t" .sh)" = "$want" ] && { selected+=("$t"); found=1; }
    done
    [ -n "$found" ] || { echo "run-tests.sh: no test named $want" >&2; exit 2; }
  done
  tests=("${selected[@]}")
fi

passed=0 failed=0 skipped=0
for t in "${tests[@]}"; do
  name=$(basename "$t" .sh)
  log=tests/logs/$name.log
  start=$(date +%s)
  timeout -k 10 "$limit" "$t" >"$log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  case $rc in
    0)  passed=$((passed + 1)); echo "PASS: $name (${secs}s)" ;;
    77) skipped=$((skipped + 1))
        echo "SKIP: $name: $(grep -m1 '^SKIP:' "$log" | sed 's/^SKIP: //')" ;;
    124|137)
        failed=$((failed + 1))
        echo "FAIL: $name: timed out after ${limit}s"
        tail -n 30 "$log" | sed 's/^/    /' ;;
    *)  failed=$((failed + 1)); echo "FAIL: $name (exit $rc, ${secs}s)"
        tail -n 40 "$log" | sed 's/^/    /' ;;
  esac
done

summary="$passed passed, $failed failed"
[ $skipped -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
[ $failed -eq 0 ]
