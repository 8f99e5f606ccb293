#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# qemu-img convert and nbdcopy through multicopy into qemu-nbd and
# qemu-storage-daemon writing qcow2: once the servers have exited, the
# qcow2 files hold exactly the source.  Requests over qemu's 32M limit
# are split.
source "$(dirname "$0")/functions.sh"
requires qemu-img qemu-nbd qemu-storage-daemon nbdcopy nbdinfo nbdsh python3

make_source src 64

new_dst () { rm -f "$1"; qemu-img create -q -f qcow2 "$1" 64M; }

echo "== qemu-nbd -e 4, qemu-img convert"
new_dst "$tmp/dst1.qcow2"
start_qemu_nbd qn -e 4 -f qcow2 "$tmp/dst1.qcow2"
start_multicopy mc qn connections=4 segment-size=1M
# qemu's block sizes pass through: minimum 1, preferred 4K, maximum 32M.
nbdinfo --json "$(uri mc)" > "$tmp/info.json"
for want in '"block_size_minimum": 1,' '"block_size_preferred": 4096,' \
            '"block_size_maximum": 33554432,' '"can_multi_conn": true'; do
  grep -qF "$want" "$tmp/info.json" || fail "nbdinfo lacks $want"
done
qemu-img convert -n -W -m 8 -f qcow2 -O raw "$tmp/src.qcow2" "$(uri mc)"
stop_server mc
stop_server qn
qemu-img compare "$tmp/src.qcow2" "$tmp/dst1.qcow2"

echo "== qemu-nbd -e 4, nbdcopy --connections=4 --flush"
new_dst "$tmp/dst2.qcow2"
start_qemu_nbd qn -e 4 -f qcow2 "$tmp/dst2.qcow2"
start_multicopy mc qn connections=4 segment-size=2M
nbdcopy --connections=4 --threads=4 --flush "$tmp/src.raw" "$(uri mc)"
stop_server mc
stop_server qn
qemu-img compare -f raw -F qcow2 "$tmp/src.raw" "$tmp/dst2.qcow2"

echo "== qemu-storage-daemon, qemu-img convert and nbdcopy"
for client in qemu-img nbdcopy; do
  new_dst "$tmp/dst3.qcow2"
  start_server qsd "$(sock qsd)" qemu-storage-daemon \
    --blockdev driver=file,node-name=file,filename="$tmp/dst3.qcow2" \
    --blockdev driver=qcow2,node-name=disk,file=file \
    --nbd-server addr.type=unix,addr.path="$(sock qsd)" \
    --export type=nbd,id=exp,node-name=disk,name=disk,writable=on
  start_nbdkit mc "$plugin" "$(uri qsd disk)" connections=4 segment-size=1M
  if [ $client = qemu-img ]; then
    qemu-img convert -n -W -m 8 -f qcow2 -O raw "$tmp/src.qcow2" "$(uri mc)"
  else
    nbdcopy --connections=4 --threads=4 --flush "$tmp/src.raw" "$(uri mc)"
  fi
  stop_server mc
  stop_server qsd
  qemu-img compare "$tmp/src.qcow2" "$tmp/dst3.qcow2"
done

echo "== a 48M write with 128M stripes: split at qemu's 32M maximum"
qemu-img create -q -f qcow2 "$tmp/big.qcow2" 256M
start_qemu_nbd qb -e 4 -f qcow2 "$tmp/big.qcow2"
start_multicopy mcb qb connections=2 segment-size=128M
client split-48m.py "$(uri mcb)" "$(uri qb)"
stop_server mcb
stop_server qb
