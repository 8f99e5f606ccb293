#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# Install the Debian packages that a target needs and that are missing.
#   build-aux/install-deps.sh build|check|bench|valgrind
# Runs apt-get as root (or through sudo -n); otherwise prints the
# command to run and fails.
set -euo pipefail

build=(gcc make pkg-config perl nbdkit nbdkit-plugin-dev libnbd-dev)
check=("${build[@]}" coreutils python3 libnbd-bin python3-libnbd qemu-utils man-db bc
       qemu-system-common gnutls-bin)
bench=("${check[@]}" hyperfine gnuplot-nox)
valgrind=("${check[@]}" valgrind)

case "${1:-check}" in
  build) want=("${build[@]}") ;;
  check) want=("${check[@]}") ;;
  bench) want=("${bench[@]}") ;;
  valgrind) want=("${valgrind[@]}") ;;
  *) echo "install-deps.sh: unknown set '$1' (build, check, bench, valgrind)" >&2
     exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != \
       "install ok installed" ]; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "Missing Debian packages: ${missing[*]}" >&2
  echo "Install them as root: apt-get install ${missing[*]}" >&2
  exit 1
fi

echo "Installing missing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
