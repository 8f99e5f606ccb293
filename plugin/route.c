/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: where a client request is split and each
 * piece is sent on the connection that owns its stripe.
 */

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libnbd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "clock.h"
#include "completion.h"
#include "extents.h"
#include "in-flight.h"
#include "kick.h"
#include "losses.h"
#include "params.h"
#include "reconnect.h"
#include "replay.h"
#include "route.h"
#include "shutdown.h"
#include "stats.h"
#include "stripe.h"
#include "upstream.h"

/* Tries of one request across reconnects. */
#define MAX_TRIES 8

/* libnbd may fail the commands of a dying connection a moment before
 * it reports the handle dead: look again every tick, for so long.
 */
#define DEATH_TICK_MS 10
#define DEATH_WAIT_MS 2000

static int64_t
issue (enum route_op op, struct upstream *u, void *buf,
       const struct stripe_piece *p, uint32_t lflags,
       nbd_completion_callback cb)
{
  switch (op) {
  case ROUTE_READ:
    return nbd_aio_pread (u->nbd, buf, p->count, p->offset, cb, lflags);
  case ROUTE_WRITE:
    return nbd_aio_pwrite (u->nbd, buf, p->count, p->offset, cb, lflags);
  case ROUTE_ZERO:
    return nbd_aio_zero (u->nbd, p->count, p->offset, cb, lflags);
  case ROUTE_TRIM:
    return nbd_aio_trim (u->nbd, p->count, p->offset, cb, lflags);
  case ROUTE_CACHE:
    return nbd_aio_cache (u->nbd, p->count, p->offset, cb, lflags);
  }
  abort ();
}

/* libnbd refused to queue the command: usually the connection is dead,
 * which the caller may wait out.
 */
static int
issue_error (struct upstream *u)
{
  int err = nbd_get_errno ();

  if (nbd_aio_is_dead (u->nbd) || nbd_aio_is_closed (u->nbd))
    return ENOTCONN;
  nbdkit_error ("upstream connection %u: %s", u->index, nbd_get_error ());
  return err ? err : EIO;
}

/* The one completion of every piece.  The tag is copied first: once
 * a logged piece is complete, a flush may free the entry that holds
 * its tag.
 */
static int
piece_completed (void *vp, int *error)
{
  const struct piece_tag t = *(const struct piece_tag *) vp;

  if (t.logged)
    replay_complete (&pool.conn[t.owner], t.logged, *error == 0);
  if (t.held)
    in_flight_release (t.t0_us >= 0 ? now_us () - t.t0_us : -1, t.owner);
  return request_completed (t.req, error);
}

/* One request's pieces while they are issued: the request they
 * complete, which connections they use, and a tag for each (piece-tag.h)
 * and for the one timed piece.  On the stack: no allocation.
 */
struct fan_out {
  struct request req;
  uint64_t used;                /* bit i: a piece went to connection i */
  bool timed;                   /* a piece is timed already */
  struct piece_tag timed_tag;
  struct piece_tag tags[MULTICOPY_CONNECTIONS_MAX];
};

/* The tag a piece's completion is told.  The first read or write piece
 * that holds a place under max-in-flight is timed (in-flight.h says
 * why only that one).  Whether a piece holds one is the request's
 * (small requests do not), the same for all its pieces.
 */
static struct piece_tag *
tag_piece (struct fan_out *f, unsigned owner, struct replay_entry *e,
           bool data, bool held)
{
  struct piece_tag *t;

  if (!(f->used & (UINT64_C (1) << owner))) {
    f->used |= UINT64_C (1) << owner;
    f->tags[owner] = (struct piece_tag) {
      .req = &f->req, .owner = owner, .t0_us = -1, .held = held,
    };
  }
  if (data && held && !f->timed) {
    f->timed = true;
    t = e ? &e->tag : &f->timed_tag;
    t->t0_us = now_us ();
  }
  else if (e)
    t = &e->tag;
  else
    return &f->tags[owner];
  t->req = &f->req;
  t->owner = owner;
  t->logged = e;
  t->held = held;
  return t;
}

/* Send one piece on its owner's handle, and record the handle's
 * generation in *gen unless gen is NULL: 0, or why it was not sent.
 */
static int
send_piece (enum route_op op, struct upstream *u, void *buf,
            const struct stripe_piece *p, uint32_t lflags,
            nbd_completion_callback cb, unsigned *gen)
{
  int err = 0;

  pthread_rwlock_rdlock (&u->handle_lock);
  if (gen)
    *gen = atomic_load (&u->gen);
  /* A server going away gets nothing new (io-thread.c). */
  if (atomic_load (&u->leaving))
    err = ESHUTDOWN;
  else if (issue (op, u, buf, p, lflags, cb) == -1)
    err = issue_error (u);
  else
    upstream_issued (u, u->nbd);
  pthread_rwlock_unlock (&u->handle_lock);
  return err;
}

/* Issue every piece of one request and wait for them.  Records in
 * gens[i] the generation of each connection i it used, in *used which.
 */
static int
issue_all (enum route_op op, void *buf, uint32_t count, uint64_t offset,
           uint32_t lflags, uint64_t *used, unsigned *gens)
{
  const bool data = route_op_has_payload (op);
  const bool logged = route_op_writes (op) && !(lflags & LIBNBD_CMD_FLAG_FUA);
  uint64_t max = data ? pool.max_payload : pool.max_command;
  uint64_t off = offset, remaining = count;
  struct stripe_piece p;
  struct fan_out f;

  f.used = 0;
  f.timed = false;
  request_init (&f.req);
  while (stripe_next_piece (&pool.map, &off, &remaining, max, &p)) {
    struct upstream *u = &pool.conn[p.owner];
    void *pbuf = stripe_piece_buf (buf, offset, &p);
    const bool first_use = !(f.used & (UINT64_C (1) << p.owner));
    nbd_completion_callback cb = { .callback = piece_completed };
    struct replay_entry *e = NULL;
    int held, err;

    /* Before the handle lock, as every wait: it must not hold up a
     * reconnect.  Each ends when nbdkit shuts down.  FUA makes a piece
     * durable: it needs no entry in the replay log.
     */
    if (logged && replay_reserve (u, op, &p, lflags, pbuf, &e) == -1) {
      request_fail (&f.req, errno);
      break;
    }
    held = in_flight_acquire (p.owner, count);
    if (held >= 0) {
      cb.user_data = tag_piece (&f, p.owner, e, data, held);
      request_hold (&f.req);
      err = send_piece (op, u, pbuf, &p, lflags, cb,
                        first_use ? &gens[p.owner] : NULL);
      if (err == 0) {
        stats_count (&u->stats, op, p.count);
        continue;
      }
      /* Never issued: no completion will release it. */
      if (held)
        in_flight_release (-1, p.owner);
      request_release (&f.req, err);
    }
    else
      request_fail (&f.req, ESHUTDOWN);
    if (e)
      replay_complete (u, e, false);
    break;
  }
  *used = f.used;
  return request_wait (&f.req);
}

/* After a try that failed with err: whether it failed because
 * connections it used were lost and all of them are back, so that it
 * may be sent again.  An error from a live connection is the server's
 * answer and is not retried.
 */
static bool
may_retry (int err, uint64_t used, const unsigned *gens)
{
  const struct timespec tick = { .tv_nsec = DEATH_TICK_MS * 1000000 };
  uint64_t lost = 0;
  unsigned i, waited;

  for (waited = 0; !shutdown_requested (); waited += DEATH_TICK_MS) {
    for (i = 0; i < pool.nr; ++i)
      if ((used >> i & 1) && upstream_lost_since (&pool.conn[i], gens[i]))
        lost |= UINT64_C (1) << i;
    if (lost || !connection_lost (err) || waited >= DEATH_WAIT_MS)
      break;
    nanosleep (&tick, NULL);
  }
  if (!lost)
    return false;
  for (i = 0; i < pool.nr; ++i)
    if ((lost >> i & 1) && !upstream_wait_back (&pool.conn[i], gens[i]))
      return false;
  return true;
}

int
route_request (enum route_op op, void *buf, uint32_t count,
               uint64_t offset, uint32_t lflags)
{
  const bool writes = route_op_writes (op);
  unsigned gens[MULTICOPY_CONNECTIONS_MAX];
  uint64_t used;
  unsigned i, tries = 0;
  int err;

  /* Nothing of a failed try was acknowledged to anyone, and every
   * operation here may be repeated: send it all again once the lost
   * connections are back (a bounded number of times, in case the
   * upstream keeps accepting and dropping connections).
   */
  while ((err = issue_all (op, buf, count, offset, lflags, &used, gens)) &&
         ++tries < MAX_TRIES && may_retry (err, used, gens))
    nbdkit_debug ("sending a request again after a reconnect");

  /* Mark before the client sees the reply, so that any flush it sends
   * after it covers these connections.  Only a write acknowledged
   * needs a flush: a failed one promised nothing.  FUA already made
   * every piece durable.  If a connection was replaced since the data
   * went to it, only a flush could have told, and it cannot any more:
   * that handle's loss is counted (once for it, losses.h).
   */
  if (writes && err == 0 && !(lflags & LIBNBD_CMD_FLAG_FUA)) {
    for (i = 0; used; ++i, used >>= 1) {
      if (!(used & 1))
        continue;
      /* At exit, once a connection had its last flush before the cut
       * (io-thread.c), nothing that returns through it may be
       * acknowledged.
       */
      if (atomic_load (&pool.conn[i].exit_flush_sent)) {
        err = ESHUTDOWN;
        continue;
      }
      dirty_mark (&pool.conn[i].dirty);
      /* With replay, the completion put it in the log before the old
       * handle was found dead, and the replay sent it again.
       */
      if (!replay_on () && atomic_load (&pool.conn[i].gen) != gens[i])
        losses_on_connection (&pool.conn[i], gens[i]);
    }
  }
  if (err) {
    nbdkit_set_error (upstream_errno (err));
    return -1;
  }
  return 0;
}

struct extent_sink {
  struct nbdkit_extents *extents;
  uint64_t end;                 /* end of the owning stripe */
  bool added;                   /* added any extent */
};

static int
add_extents (void *vp, const char *metacontext, uint64_t offset,
             uint32_t *entries, size_t nr_entries, int *error)
{
  struct extent_sink *sink = vp;
  size_t i;

  if (*error || strcmp (metacontext, LIBNBD_CONTEXT_BASE_ALLOCATION) != 0)
    return 0;
  for (i = 0; i + 1 < nr_entries; offset += entries[i], i += 2) {
    int64_t added = extent_add_until (sink->extents, sink->end, offset,
                                      entries[i], entries[i+1]);
    if (added == -1) {
      *error = errno;
      return -1;
    }
    if (added == 0)
      break;
    sink->added = true;
  }
  return 0;
}

int
route_extents (uint32_t count, uint64_t offset, uint32_t lflags,
               struct nbdkit_extents *extents)
{
  struct stripe_piece p = stripe_first_piece (&pool.map, offset, count);
  struct upstream *u = &pool.conn[p.owner];
  struct extent_sink sink = {
    .extents = extents, .end = p.offset + p.count,
  };
  nbd_extent_callback cb = { .callback = add_extents, .user_data = &sink };
  unsigned gens[MULTICOPY_CONNECTIONS_MAX];
  unsigned tries = 0;
  int err;

  do {
    struct request req;

    request_init (&req);
    request_hold (&req);
    pthread_rwlock_rdlock (&u->handle_lock);
    gens[p.owner] = atomic_load (&u->gen);
    if (atomic_load (&u->leaving))
      request_release (&req, ESHUTDOWN);
    else if (nbd_aio_block_status (u->nbd, p.count, p.offset, cb,
                                   request_callback (&req), lflags) == -1)
      request_release (&req, issue_error (u));
    else {
      upstream_issued (u, u->nbd);
      stats_count (&u->stats, STATS_EXTENTS, p.count);
    }
    pthread_rwlock_unlock (&u->handle_lock);
    err = request_wait (&req);
    /* A failed try that already added extents is not sent again:
     * nbdkit would get them twice.
     */
  } while (err && !sink.added &&
           ++tries < MAX_TRIES &&
           may_retry (err, UINT64_C (1) << p.owner, gens));

  if (err) {
    nbdkit_set_error (upstream_errno (err));
    return -1;
  }
  return 0;
}
