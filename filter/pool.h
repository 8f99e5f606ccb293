/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy filter: one pool of N backend contexts, shared by
 * every client connection: opening, closing and flushing them, and
 * what they can do together.
 */

#ifndef MULTICOPY_FILTER_POOL_H
#define MULTICOPY_FILTER_POOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <nbdkit-filter.h>

#include "dirty.h"
#include "errseq.h"
#include "export-caps.h"
#include "params.h"
#include "stats.h"
#include "stripe.h"

struct pool {
  /* All N are ours, opened shared: they belong to no client connection
   * (and nbdkit 1.32 aborts on a second non-shared context in one).
   */
  nbdkit_next *ctx[MULTICOPY_CONNECTIONS_MAX];
  bool prepared[MULTICOPY_CONNECTIONS_MAX];
  unsigned nr;
  struct stripe_map map;
  uint64_t max_piece;           /* 0: only stripes split requests */

  /* nbdkit serializes requests per client connection, not per context:
   * below the parallel model, two clients could meet on one context.
   */
  bool lock_each;
  pthread_mutex_t ctx_lock[MULTICOPY_CONNECTIONS_MAX];

  /* Context i has acknowledged writes that no flush has covered yet,
   * or flushes in flight (dirty.h).
   */
  struct dirty dirty[MULTICOPY_CONNECTIONS_MAX];

  /* Flushes that failed: the plugin may have dropped what it held,
   * and every client connected then must hear of it (errseq.h).
   */
  struct errseq losses;

  /* What each context carried, kept across openings of the pool
   * (stats=FILE).
   */
  struct stats stats[MULTICOPY_CONNECTIONS_MAX];

  /* What all contexts can do together (export-caps.h). */
  struct export_caps caps;
};

/* The pool.  Its fields change only while no client uses it. */
extern struct pool pool;

/* .get_ready: whether each context call must take the context's lock. */
extern void pool_set_locking (bool lock_each);

/* .open: use the pool, opening and priming its contexts if this is the
 * only client.  Errors reach this client.  Every client must ask for
 * the same export, read-only or not, as the one that opened the pool.
 */
extern int pool_join (nbdkit_context *context, unsigned nr,
                      uint64_t segment_size, int readonly,
                      const char *exportname);

/* .close: stop using the pool.  The last client out flushes every
 * context that holds unflushed writes and closes them all, so the
 * upstream sees no idle connections and nothing acknowledged stays
 * only in a context's cache.
 */
extern void pool_leave (void);

/* .cleanup: nbdkit 1.32 does not call .close for the clients still
 * connected when it quits, so the pool may still be open: flush what
 * they left unflushed and close it, for good.
 */
extern void pool_exit (void);

/* Flush every context that needs it (dirty.h): in parallel threads
 * when the thread model lets us call contexts from threads of our
 * own, else in turn.  A failure counts as a loss (pool.losses).
 */
extern int pool_flush (uint32_t flags, int *err);

/* Around every call into context i from the data path. */
static inline void
pool_ctx_lock (unsigned i)
{
  if (pool.lock_each)
    pthread_mutex_lock (&pool.ctx_lock[i]);
}

static inline void
pool_ctx_unlock (unsigned i)
{
  if (pool.lock_each)
    pthread_mutex_unlock (&pool.ctx_lock[i]);
}

#endif /* MULTICOPY_FILTER_POOL_H */
