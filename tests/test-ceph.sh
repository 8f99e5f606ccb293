#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# SEVERAL UPSTREAM SERVERS over real distributed storage: a Ceph
# cluster of its own (tests/ceph.sh), one RBD image behind three
# qemu-nbd gateways, each with librbd's write-back cache (so each keeps
# what it was written, and what it read, to itself until a flush).
#
# First, that the gateways are incoherent, so that the test can fail:
# a write through one gateway is not seen through another, and once
# another has read a region it goes on serving its old copy after the
# writer flushed.  Then qemu-img convert and nbdcopy through multicopy
# with uri= three times: every gateway carries writes, and the image as
# Ceph holds it (rbd export, past every gateway) is the source byte for
# byte.  Last, the man page's Ceph recipe, as printed.
source "$(dirname "$0")/functions.sh"
requires ceph-mon ceph-osd ceph rbd ceph-authtool monmaptool qemu-nbd \
  qemu-img nbdcopy nbdsh python3
compgen -G '/usr/lib/*/qemu/block-rbd.so' >/dev/null ||
  compgen -G '/usr/lib/qemu/block-rbd.so' >/dev/null ||
  skip "qemu has no rbd driver (package qemu-block-extra)"
export PATH=/usr/bin:$PATH
source "$top/tests/ceph.sh"

ceph_start
mib=48
# Without exclusive-lock, which would make the gateways hand the
# image (and their caches) over on every write: gateways of a shared
# image, as ocfs2 or a cluster would use it.
rbd_cmd create --size ${mib}M --image-feature layering rbd/img ||
  fail "rbd create"
for g in gw1 gw2 gw3; do ceph_gateway $g img; done

# exported: the image as the cluster holds it.
exported ()
{
  rm -f "$tmp/export.raw"
  rbd_cmd export --no-progress rbd/img "$tmp/export.raw"
}

echo "== without ownership, the gateways disagree"
nbdsh -c '
import os
w, r = nbd.NBD(), nbd.NBD()
w.connect_uri("'"$(uri gw1)"'")
r.connect_uri("'"$(uri gw2)"'")
new = os.urandom(1 << 20)
assert r.pread(1 << 20, 0) == bytes(1 << 20)   # gw2 caches the zeroes
w.pwrite(new, 0)
assert w.pread(1 << 20, 0) == new
stale = r.pread(1 << 20, 0) != new
print("before the flush, gw2 reads", "stale data" if stale else "the write")
w.flush()
stale_after = r.pread(1 << 20, 0) != new
print("after gw1 flushed, gw2 reads",
      "stale data" if stale_after else "the write")
assert stale or stale_after, "the gateways look coherent: nothing to show"
' || fail "no stale read shown: the test could not fail"

echo "== qemu-img convert through multicopy, three gateways"
make_source src $mib
start_nbdkit mc "$plugin" "$(uri gw1)" "$(uri gw2)" "$(uri gw3)" \
  stats="$tmp/mc.stats"
qemu-img convert -n -W -m 8 -f qcow2 -O raw "$tmp/src.qcow2" "$(uri mc)"
exported
cmp "$tmp/src.raw" "$tmp/export.raw" ||
  fail "qemu-img: the RBD image differs from the source"
echo "qemu-img: the RBD image is the source"
stop_server mc
cat "$tmp/mc.stats"
for s in 0 1 2; do
  w=$(grep "^connection=[0-9]* server=$s " "$tmp/mc.stats" |
        grep -o ' write=[0-9]*/[0-9]*' | cut -d/ -f2 | paste -sd+ | bc)
  [ "${w:-0}" -gt 0 ] || fail "server $s carried no writes"
  echo "server $s carried $w bytes of writes"
done

echo "== nbdcopy through multicopy, three gateways"
make_source src2 $mib
start_nbdkit mc "$plugin" "$(uri gw1)" "$(uri gw2)" "$(uri gw3)"
nbdcopy --flush "$tmp/src2.raw" "$(uri mc)"
exported
cmp "$tmp/src2.raw" "$tmp/export.raw" ||
  fail "nbdcopy: the RBD image differs from the source"
echo "nbdcopy: the RBD image is the source"
stop_server mc

echo "== the man page's recipe"
# The verbatim lines of its section, with the gateways' sockets and the
# source put where this test keeps them.
recipe=$(awk '/^=head2 One Ceph RBD image behind three gateways/ { on = 1; next }
              on && /^=head/ { exit }
              on && /^ / { print substr ($0, 2) }' "$top/nbdkit-multicopy.pod")
[ -n "$recipe" ] || fail "no Ceph recipe in the man page"
for g in gw1 gw2 gw3; do stop_server $g; done
make_source src3 $mib
(
  cd "$tmp"
  sed -e "s|/run/multicopy/|$tmp/recipe-|g" -e "s|^mkdir -p .*||" \
      -e "s|disk\.qcow2|src3.qcow2|" -e "s|nbdkit -U - multicopy |nbdkit -U - $plugin |" \
      -e "s|conf=/etc/ceph/ceph.conf:id=admin|conf=$ceph_conf:id=admin:keyring=$ceph_key|" \
    <<<"$recipe" >"$tmp/recipe.sh"
  cat "$tmp/recipe.sh"
  timeout 300 bash -e "$tmp/recipe.sh"
) || rc=$?
# Its gateways, stopped with the rest however it went.
for f in "$tmp"/recipe-*.pid; do
  [ -f "$f" ] && track_pid "recipe-$(basename "$f" .pid)" "$(cat "$f")"
done
[ "${rc:-0}" -eq 0 ] || fail "the recipe failed"
exported
cmp "$tmp/src3.raw" "$tmp/export.raw" ||
  fail "recipe: the RBD image differs from the source"
echo "recipe: the RBD image is the source"
