#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# Make sure what a target needs is there, and install what is missing.
#   build-aux/install-deps.sh build|check|checkers|valgrind|bench|deb
#
# What is needed is checked for itself (a command, a pkg-config
# module, a Python module), not as a package, so that this works off
# Debian too.  Where apt-get exists (and we are root, or sudo works
# without a password), the Debian packages that provide what is
# missing are installed.  Otherwise the missing things are named: the
# build fails without its own; the tests that need a missing tool say
# so and are skipped.
#
# For its own test: MULTICOPY_DEPS_EXTRA adds a "WHAT KIND PACKAGE" to
# check for; MULTICOPY_DEPS_NO_APT=1 acts as if apt-get were absent.
set -euo pipefail
export PATH=/usr/bin:/usr/sbin:/bin:/sbin:$PATH

# WHAT KIND DEBIAN-PACKAGE; KIND: cmd (a command), pc (a pkg-config
# module), py (a module of /usr/bin/python3), file (a path, a glob).
build=(
  "cc cmd gcc" "make cmd make" "pkg-config cmd pkg-config"
  "pod2man cmd perl" "nbdkit cmd nbdkit"
  "nbdkit pc nbdkit-plugin-dev" "libnbd pc libnbd-dev"
)
check=(
  "python3 cmd python3" "nbd py python3-libnbd" "nbdsh cmd python3-libnbd"
  "nbdcopy cmd libnbd-bin" "nbdinfo cmd libnbd-bin"
  "qemu-img cmd qemu-utils" "qemu-nbd cmd qemu-utils"
  "qemu-storage-daemon cmd qemu-system-common"
  "psktool cmd gnutls-bin" "certtool cmd gnutls-bin"
  "man cmd man-db" "podchecker cmd perl" "bc cmd bc" "git cmd git"
  "timeout cmd coreutils" "systemd-socket-activate cmd systemd"
  "dpkg-buildpackage cmd dpkg-dev" "dh cmd debhelper" "lintian cmd lintian"
  "promtool cmd prometheus" "ss cmd iproute2"
  "ceph-mon cmd ceph-mon" "ceph-osd cmd ceph-osd" "rbd cmd ceph-common"
  "/usr/lib/*/qemu/block-rbd.so file qemu-block-extra"
)
deb=("dpkg-buildpackage cmd dpkg-dev" "dh cmd debhelper")
# Under the checkers, a test looks at a hung nbdkit with gdb.
checkers=("gdb cmd gdb")
valgrind=("valgrind cmd valgrind")
bench=("hyperfine cmd hyperfine" "gnuplot cmd gnuplot-nox" "fio cmd fio")

case "${1:-check}" in
  build) want=("${build[@]}") ;;
  check) want=("${build[@]}" "${check[@]}") ;;
  checkers) want=("${build[@]}" "${check[@]}" "${checkers[@]}") ;;
  valgrind) want=("${build[@]}" "${check[@]}" "${checkers[@]}"
                  "${valgrind[@]}") ;;
  bench) want=("${build[@]}" "${check[@]}" "${bench[@]}") ;;
  deb) want=("${build[@]}" "${deb[@]}") ;;
  *) echo "install-deps.sh: unknown set '$1'" \
          "(build, check, checkers, valgrind, bench, deb)" >&2
     exit 2 ;;
esac

[ -z "${MULTICOPY_DEPS_EXTRA:-}" ] || want+=("$MULTICOPY_DEPS_EXTRA")

have ()
{
  case $2 in
    cmd) command -v "$1" >/dev/null 2>&1 ;;
    pc) command -v pkg-config >/dev/null 2>&1 &&
          pkg-config --exists "$1" 2>/dev/null ;;
    py) /usr/bin/python3 -c "import $1" >/dev/null 2>&1 ;;
    file) compgen -G "$1" >/dev/null ;;
  esac
}

missing=() packages=() build_missing=()
for w in "${want[@]}"; do
  read -r what kind package <<<"$w"
  have "$what" "$kind" && continue
  missing+=("$what ($kind)")
  [[ " ${packages[*]} " == *" $package "* ]] || packages+=("$package")
  for b in "${build[@]}"; do
    [ "$b" = "$w" ] && build_missing+=("$what")
  done
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null &&
   sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
fi
apt=$(command -v apt-get || true)
[ -z "${MULTICOPY_DEPS_NO_APT:-}" ] || apt=
if [ -n "$apt" ] && { [ "$(id -u)" -eq 0 ] || [ ${#sudo[@]} -gt 0 ]; }; then
  echo "Installing what is missing (${missing[*]}): ${packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}"
  exit 0
fi

echo "Missing: ${missing[*]}" >&2
if [ -n "$apt" ]; then
  echo "Install them as root: apt-get install ${packages[*]}" >&2
else
  echo "(on Debian these come in: ${packages[*]})" >&2
fi
if [ ${#build_missing[@]} -gt 0 ]; then
  echo "The build needs: ${build_missing[*]}" >&2
  exit 1
fi
echo "Going on: the tests that need them will be skipped." >&2
