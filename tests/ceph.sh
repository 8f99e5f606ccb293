# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# A Ceph cluster of one host for a test, sourced after functions.sh:
# one monitor and one OSD (BlueStore on a sparse file), no manager,
# cephx on, messenger v2 on 127.0.0.1, everything under $tmp/ceph.
#
#   ceph_start            start it and create the pool "rbd"
#   ceph_conf, ceph_key   its configuration file and the admin keyring
#   ceph_gateway NAME IMG a qemu-nbd gateway to rbd/IMG on $tmp/NAME.sock
#                         with librbd's write-back cache on
#
# The daemons are stopped with the test's servers (gateways first, then
# the OSD, then the monitor).

ceph_dir=$tmp/ceph
ceph_conf=$ceph_dir/ceph.conf
ceph_key=$ceph_dir/client.admin.keyring

# ceph ARGS...: the ceph command of this cluster, never waiting long.
ceph_cmd () { timeout 60 ceph -c "$ceph_conf" --connect-timeout 20 "$@"; }
rbd_cmd () { timeout 120 rbd -c "$ceph_conf" "$@"; }

ceph_write_conf ()
{
  local fsid=$1 port=$2
  cat >"$ceph_conf" <<EOF
[global]
fsid = $fsid
mon_host = v2:127.0.0.1:$port
public_addr = 127.0.0.1
ms_bind_msgr1 = false
ms_bind_ipv6 = false
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
keyring = $ceph_key
run_dir = $ceph_dir/run
crash_dir = $ceph_dir/crash
log_file = $ceph_dir/\$name.log
mon_cluster_log_file = $ceph_dir/cluster.log
admin_socket = $ceph_dir/run/\$name.\$pid.asok
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
# The monitor stops when its disk is under 5% free: not for a test.
mon_data_avail_warn = 1
mon_data_avail_crit = 0

[mon]
mon_data = $ceph_dir/mon
keyring = $ceph_dir/mon/keyring

[osd]
osd_data = $ceph_dir/osd
keyring = $ceph_dir/osd/keyring
osd_objectstore = bluestore
bluestore_block_create = true
bluestore_block_size = 4294967296
bluestore_cache_autotune = false
bluestore_cache_size = 134217728

[client]
# What each gateway keeps to itself: a write-back cache that also
# serves reads, whose dirty data waits for a flush.
rbd_cache = true
rbd_cache_policy = writeback
rbd_cache_writethrough_until_flush = false
rbd_cache_max_dirty_age = 60
EOF
}

ceph_start ()
{
  local fsid port uuid id i t0=$SECONDS
  mkdir -p "$ceph_dir"/{mon,osd,run,crash}
  fsid=$(cat /proc/sys/kernel/random/uuid)
  port=$(free_port)
  ceph_write_conf "$fsid" "$port"

  {
    ceph-authtool --create-keyring "$ceph_dir/mon.keyring" --gen-key \
      -n mon. --cap mon 'allow *' &&
    ceph-authtool --create-keyring "$ceph_key" --gen-key -n client.admin \
      --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' &&
    ceph-authtool "$ceph_dir/mon.keyring" --import-keyring "$ceph_key" &&
    monmaptool --create --addv a "[v2:127.0.0.1:$port]" --fsid "$fsid" \
      "$ceph_dir/monmap"
  } >"$tmp/ceph-mkfs.log" 2>&1 || fail "keyrings: $(tail -3 "$tmp/ceph-mkfs.log")"
  ceph-mon -c "$ceph_conf" --mkfs -i a --monmap "$ceph_dir/monmap" \
    --keyring "$ceph_dir/mon.keyring" >>"$tmp/ceph-mkfs.log" 2>&1 ||
    fail "ceph-mon --mkfs: $(tail -3 "$tmp/ceph-mkfs.log")"
  ceph-mon -c "$ceph_conf" -i a -f >"$tmp/ceph-mon.log" 2>&1 &
  track_pid ceph-mon $!
  ceph_cmd -s >/dev/null || fail "the monitor does not answer"

  uuid=$(cat /proc/sys/kernel/random/uuid)
  id=$(ceph_cmd osd new "$uuid") || fail "ceph osd new"
  ceph_cmd auth get-or-create "osd.$id" mon 'allow profile osd' \
    osd 'allow *' mgr 'allow profile osd' -o "$ceph_dir/osd/keyring" ||
    fail "no key for osd.$id"
  ceph-osd -c "$ceph_conf" -i "$id" --mkfs --osd-uuid "$uuid" \
    >>"$tmp/ceph-mkfs.log" 2>&1 ||
    fail "ceph-osd --mkfs: $(tail -3 "$tmp/ceph-mkfs.log")"
  ceph-osd -c "$ceph_conf" -i "$id" -f >"$tmp/ceph-osd.log" 2>&1 &
  track_pid ceph-osd $!
  for i in $(seq 600); do
    ceph_cmd osd dump 2>/dev/null | grep -q "^osd.$id up" && break
    kill -0 "${server_pid[ceph-osd]}" 2>/dev/null ||
      fail "ceph-osd exited: $(tail -5 "$tmp/ceph-osd.log")"
    sleep 0.2
  done
  ceph_cmd osd dump | grep -q "^osd.$id up" || fail "osd.$id is not up"
  ceph_cmd osd pool create rbd 8 8 >/dev/null 2>&1 || fail "pool create"
  rbd_cmd pool init rbd || fail "rbd pool init"
  echo "ceph: a monitor and an OSD up, pool rbd made, in" \
    "$(( SECONDS - t0 )) s"
}

# ceph_gateway NAME IMAGE
ceph_gateway ()
{
  start_server "$1" "$(sock "$1")" qemu-nbd -t -e 8 -f raw \
    --cache=writeback -k "$(sock "$1")" \
    "rbd:rbd/$2:conf=$ceph_conf:id=admin:keyring=$ceph_key"
}
