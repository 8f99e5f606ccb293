/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: flush fan-out.
 *
 * A client's flush must cover every write any client has seen
 * acknowledged, and those may sit on any upstream connection.  So the
 * flush goes to every connection that may hold such writes, all at
 * once, and succeeds only when all have.
 *
 * A connection is skipped when it is clean, unless another flush is in
 * flight on it: that flush may have taken the dirty mark but not yet
 * finished, and we must not reply before the data is durable.
 */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <libnbd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "clock.h"
#include "completion.h"
#include "config.h"
#include "flush.h"
#include "io-thread.h"
#include "kick.h"
#include "losses.h"
#include "params.h"
#include "reconnect.h"
#include "replay.h"
#include "stats.h"
#include "upstream.h"

/* 0, or the errno for a flush that could not be sent. */
static int
issue_flush (struct upstream *u, nbd_completion_callback cb)
{
  int err = 0;

  pthread_rwlock_rdlock (&u->handle_lock);
  if (atomic_load (&u->leaving))
    err = ESHUTDOWN;
  else if (nbd_aio_flush (u->nbd, cb, 0) == -1) {
    if (nbd_aio_is_dead (u->nbd) || nbd_aio_is_closed (u->nbd))
      err = ENOTCONN;
    else {
      nbdkit_error ("upstream connection %u: flush: %s",
                    u->index, nbd_get_error ());
      err = EIO;
    }
  }
  else
    upstream_issued (u, u->nbd);
  pthread_rwlock_unlock (&u->handle_lock);
  return err;
}

/* One connection's part of a client's flush. */
struct flush_part {
  struct request *req;
  unsigned gen;                 /* the handle it went to */
  uint64_t mark;                /* what of the replay log it covers */
  uint64_t ticket;              /* its own, or the flush it waits for */
  int err;
};

static int
part_completed (void *vp, int *error)
{
  struct flush_part *part = vp;

  part->err = *error;
  return request_completed (part->req, error);
}

/* A flush failed on u.  If the connection was lost, that is its one
 * loss (losses.h), counted now so that the client whose flush this
 * is hears of it here and not again.  Otherwise the server answered:
 * what it could not write may be gone.  Either way the writes are
 * not marked again: the loss is told, once.
 */
static int
flush_failed (struct upstream *u, const struct flush_part *part)
{
  if (connection_lost (part->err) || upstream_lost_since (u, part->gen)) {
    /* With replay, the new connection took again, and flushed, all
     * that this flush was to cover, before it took anything new.
     */
    if (replay_on () && upstream_wait_back (u, part->gen))
      return 0;
    losses_on_connection (u, part->gen);
  }
  else
    losses_on_flush (u);
  return part->err;
}

int
flush_dirty (void)
{
  struct flush_part part[MULTICOPY_CONNECTIONS_MAX];
  uint64_t sent = 0;            /* bit i: flushed connection i */
  uint64_t waits = 0;           /* bit i: waits for another's flush */
  struct request req;
  unsigned i;
  int err;

  request_init (&req);
  for (i = 0; i < pool.nr; ++i) {
    struct upstream *u = &pool.conn[i];
    nbd_completion_callback cb = {
      .callback = part_completed, .user_data = &part[i],
    };
    uint64_t ticket;

    switch (dirty_flush_begin (&u->dirty, true, &ticket)) {
    case DIRTY_CLEAN:
      continue;
    case DIRTY_WAIT:
      waits |= UINT64_C (1) << i;
      part[i].ticket = ticket;
      continue;
    case DIRTY_SEND:
      break;
    }
    sent |= UINT64_C (1) << i;
    part[i] = (struct flush_part) {
      .req = &req, .gen = atomic_load (&u->gen), .mark = replay_mark (u),
      .ticket = ticket,
    };
    request_hold (&req);
    /* Once sent, the part is its completion's to write. */
    err = issue_flush (u, cb);
    if (err) {
      part[i].err = err;
      request_release (&req, err);
      continue;
    }
    stats_count (&u->stats, STATS_FLUSH, 0);
  }
  request_wait (&req);

  err = 0;
  for (i = 0; i < pool.nr; ++i) {
    struct upstream *u = &pool.conn[i];
    int e;

    if (!(sent & (UINT64_C (1) << i)))
      continue;
    if (part[i].err == 0)
      replay_covered (u, part[i].mark);
    else if ((e = flush_failed (u, &part[i])) != 0 && err == 0)
      err = e;
    dirty_flush_end (&u->dirty, part[i].ticket);
  }
  /* After ending our own, so that two flushes never wait for each
   * other.  A loss in the flush waited for is told by the caller's
   * errseq check.
   */
  for (i = 0; i < pool.nr; ++i)
    if (waits & (UINT64_C (1) << i))
      dirty_flush_wait (&pool.conn[i].dirty, part[i].ticket);
  if (err) {
    nbdkit_set_error (upstream_errno (err));
    return -1;
  }
  return 0;
}

static void
cut_exit_flush (void *vp)
{
  io_thread_cut (vp, "the flush at exit did not finish within "
                 "shutdown-timeout");
}

/* Whether connection u may hold writes that clients saw acknowledged
 * and no flush has covered for sure.
 */
static bool
needs_exit_flush (struct upstream *u)
{
  return dirty_take (&u->dirty) || atomic_load (&u->exit_flush_sent);
}

void
flush_at_exit (void)
{
  int64_t deadline = now_ms () + config.shutdown_timeout_ms;
  struct request req[MULTICOPY_CONNECTIONS_MAX];
  bool sent[MULTICOPY_CONNECTIONS_MAX] = { false };
  unsigned i, nr_sent = 0, nr_failed = 0;

  if (pool.nr == 0 || !pool.conn[0].io_thread_started || !pool.caps.can_flush)
    return;

  /* One request per connection, to say which ones failed.  A flush
   * sent by the I/O thread at the drain deadline may still be out: a
   * new one covers all it did, and more.
   */
  for (i = 0; i < pool.nr; ++i) {
    struct upstream *u = &pool.conn[i];
    int err;

    if (!needs_exit_flush (u))
      continue;
    request_init (&req[i]);
    request_hold (&req[i]);
    err = issue_flush (u, request_callback (&req[i]));
    if (err)
      request_release (&req[i], err);
    else
      stats_count (&u->stats, STATS_FLUSH, 0);
    sent[i] = true;
    nr_sent++;
  }
  for (i = 0; i < pool.nr; ++i) {
    struct upstream *u = &pool.conn[i];
    int err, early;

    if (!sent[i])
      continue;
    err = request_wait_deadline (&req[i], deadline, cut_exit_flush, u);
    /* A failed flush may have dropped what it could not write. */
    early = atomic_load (&u->exit_flush_err);
    if (err == 0 && early > 0)
      err = early;
    if (err) {
      nr_failed++;
      nbdkit_error ("upstream connection %u: writes that clients left "
                    "unflushed on its stripes (every %u-th stripe of %"
                    PRIu64 " bytes, from byte %" PRIu64 ") could not be "
                    "flushed at exit: %s; they may not reach the upstream's "
                    "storage", i, pool.nr, pool.map.segment_size,
                    (uint64_t) i * pool.map.segment_size, strerror (err));
    }
  }
  if (nr_sent)
    nbdkit_debug ("flushed at exit: %u of %u connections held writes not "
                  "yet flushed, %u of them failed", nr_sent, pool.nr,
                  nr_failed);
}
