/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: the upstream connections, and the one
 * global pool of them that every client connection shares.  Data
 * only: pool.c opens and closes it, the others use it.
 */

#ifndef MULTICOPY_UPSTREAM_H
#define MULTICOPY_UPSTREAM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <libnbd.h>

#include "caps.h"
#include "dirty.h"
#include "replay-log.h"
#include "stats.h"
#include "stripe.h"

/* libnbd 1.14 refuses reads and writes over 64M and does not split for
 * servers that accept less; qemu accepts 32M.  Without an advertised
 * maximum, stay at the protocol's safe size.
 */
#define MULTICOPY_DEFAULT_MAX_PAYLOAD (UINT64_C (32) << 20)

/* One upstream NBD connection. */
struct upstream {
  /* The I/O thread replaces a dead handle with a new one.  Issuers
   * hold handle_lock for reading around each nbd_aio_* call; the I/O
   * thread, which alone changes nbd and fd, holds it for writing to
   * swap them.
   */
  pthread_rwlock_t handle_lock;
  struct nbd_handle *nbd;
  int fd;                       /* libnbd's socket */
  atomic_uint gen;              /* bumped at each reconnect */
  /* The handle's server advertises multi-conn: a flush on any of its
   * connections covers what all of them had completed (replay.c).
   */
  atomic_bool multi_conn;

  /* The server answered NBD_ESHUTDOWN: it is going away.  Nothing new
   * is issued on this handle; the I/O thread disconnects, then
   * reconnects.  Cleared with the new handle.
   */
  atomic_bool leaving;

  /* Whether the connection is up, and since when it is down; requests
   * that need it wait on up_cond.
   */
  pthread_mutex_t state_lock;
  pthread_cond_t up_cond;
  bool up;
  int64_t down_since_ms;

  unsigned index;
  unsigned server;              /* which of config.servers */
  int kick_fd;                  /* eventfd that wakes the I/O thread */
  pthread_t io_thread;
  bool io_thread_started;
  atomic_bool stopping;         /* pool_close: disconnect and exit */

  /* Probing an idle connection (io-thread.c). */
  atomic_bool probe_now;        /* another connection heard ESHUTDOWN */
  atomic_bool probing;          /* a probe is in flight */
  /* A reply read on another thread (a probe's, or any that the reply
   * reader read) was NBD_ESHUTDOWN: for the I/O thread to act on.
   */
  atomic_bool heard_goodbye;

  /* The reply reader reads this connection's replies (reply-reader.h);
   * else its I/O thread does.  Only the I/O thread changes it.
   */
  atomic_bool to_reader;
  uint64_t probe_offset;        /* within this connection's stripes */
  void *probe_buf;

  /* Writes that a client has seen acknowledged and no flush has
   * covered yet, and flushes in flight (dirty.h).
   */
  struct dirty dirty;
  atomic_uint lost_gen;         /* losses.c: last generation lost, + 1 */

  /* Exit (flush.c): the I/O thread flushed the connection while
   * requests still held it at the drain deadline.  Writes that return
   * through it after that are not acknowledged: no flush would cover
   * them before the cut.  exit_flush_err: its outcome, -1 until then.
   */
  atomic_bool exit_flush_sent;
  atomic_int exit_flush_err;
  uint64_t exit_flush_ticket;   /* its ticket (dirty.h) */

  /* Replay (replay.c): what it acknowledged that no flush of it has
   * covered, to send again on a new connection.  log_lock guards the
   * log and the fields after it; writers wait on log_room for room.
   */
  pthread_mutex_t log_lock;
  pthread_cond_t log_room;
  struct replay_log log;
  bool log_flush_out;           /* an internal flush covering it is out */
  uint64_t log_flush_mark;      /* what it covers */
  unsigned log_flush_gen;       /* gen when the mark was taken */
  /* The logs this connection's internal flush covers besides its own
   * (their indexes), while it is out: only this connection's writers
   * and its flush's completion use them.
   */
  unsigned *log_flush_others;
  unsigned log_flush_nr_others;
  bool log_walking;             /* a replay walks it: free nothing */

  /* What it carried (stats=FILE, and the debug log at exit). */
  struct stats stats;
};

struct pool {
  struct upstream *conn;
  unsigned nr;                  /* connections that came up */
  struct stripe_map map;        /* owners == nr */
  uint64_t max_payload;         /* largest read or write piece */
  uint64_t max_command;         /* largest zero/trim/cache piece, 0: any */
  uint32_t probe_len;           /* the smallest read the upstream takes */
  struct export_caps caps;      /* what all connections can do */
  char *description;            /* the upstream's, for clients */
};

extern struct pool pool;

#endif /* MULTICOPY_UPSTREAM_H */
