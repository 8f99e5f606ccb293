/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy filter: where a request is split and each piece is
 * sent to the pool context that owns its stripe.
 *
 * Pieces of one request go in turn, on the request's own thread:
 * nbdkit already runs many requests at once, and a request rarely
 * spans more than two stripes.  A piece holds at most one context lock
 * at a time.
 */

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <nbdkit-filter.h>

#include "clock.h"
#include "extents.h"
#include "in-flight.h"
#include "pool.h"
#include "route.h"
#include "stats.h"
#include "stripe.h"

static int
call (nbdkit_next *c, enum route_op op, void *buf,
      const struct stripe_piece *p, uint32_t flags, int *err)
{
  switch (op) {
  case ROUTE_READ:
    return c->pread (c, buf, p->count, p->offset, flags, err);
  case ROUTE_WRITE:
    return c->pwrite (c, buf, p->count, p->offset, flags, err);
  case ROUTE_ZERO:
    return c->zero (c, p->count, p->offset, flags, err);
  case ROUTE_TRIM:
    return c->trim (c, p->count, p->offset, flags, err);
  case ROUTE_CACHE:
    return c->cache (c, p->count, p->offset, flags, err);
  }
  abort ();
}

static int
issue (enum route_op op, void *buf, uint32_t count,
       const struct stripe_piece *p, uint32_t flags, int *err)
{
  int64_t t0;
  int held, r;

  /* Every read and write piece that holds a place is timed: each runs
   * on its own, and a wait for the context's lock is a wait in the
   * queue below.  A small request holds none (in-flight.h).
   */
  held = in_flight_acquire (p->owner, count);
  if (held == -1) {
    *err = ESHUTDOWN;
    return -1;
  }
  t0 = now_us ();
  pool_ctx_lock (p->owner);
  r = call (pool.ctx[p->owner], op, buf, p, flags, err);
  pool_ctx_unlock (p->owner);
  if (held)
    in_flight_release (route_op_has_payload (op) ? now_us () - t0 : -1,
                       p->owner);
  stats_count (&pool.stats[p->owner], op, p->count);
  if (r == 0 && route_op_writes (op) && !(flags & NBDKIT_FLAG_FUA))
    dirty_mark (&pool.dirty[p->owner]);
  return r;
}

int
route_request (enum route_op op, void *buf, uint32_t count,
               uint64_t offset, uint32_t flags, int *err)
{
  uint64_t off = offset, remaining = count;
  struct stripe_piece p;

  while (stripe_next_piece (&pool.map, &off, &remaining, pool.max_piece,
                            &p)) {
    if (issue (op, stripe_piece_buf (buf, offset, &p), count, &p, flags,
               err) == -1)
      return -1;
  }
  return 0;
}

int
route_extents (uint32_t count, uint64_t offset, uint32_t flags,
               struct nbdkit_extents *extents, int *err)
{
  struct stripe_piece p = stripe_first_piece (&pool.map, offset, count);
  struct nbdkit_extents *mine;
  nbdkit_next *c = pool.ctx[p.owner];
  size_t i, n;
  int got, r = -1;

  /* The context may answer past its stripe, and the client's object
   * would keep that: collect into one that ends at the stripe.
   */
  mine = nbdkit_extents_new (p.offset, p.offset + p.count);
  if (mine == NULL) {
    *err = errno;
    return -1;
  }
  pool_ctx_lock (p.owner);
  got = c->extents (c, p.count, p.offset, flags, mine, err);
  pool_ctx_unlock (p.owner);
  stats_count (&pool.stats[p.owner], STATS_EXTENTS, p.count);
  if (got == -1)
    goto out;
  n = nbdkit_extents_count (mine);
  for (i = 0; i < n; ++i) {
    struct nbdkit_extent e = nbdkit_get_extent (mine, i);
    if (extent_add_until (extents, p.offset + p.count,
                          e.offset, e.length, e.type) == -1) {
      *err = errno;
      goto out;
    }
  }
  r = 0;
 out:
  nbdkit_extents_free (mine);
  return r;
}
