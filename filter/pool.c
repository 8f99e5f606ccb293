/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy filter: the pool of contexts that every client
 * connection shares: opening, priming, locking, flushing and closing
 * them.
 *
 * Flush is the one call that must reach every context, so under the
 * parallel model it runs on all of them at once, each on a thread of
 * its own.  Calling a context from a thread of ours bypasses nbdkit's
 * locks, so under the stricter models the contexts are flushed in
 * turn.
 */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-filter.h>

#include "below.h"
#include "errseq.h"
#include "params.h"
#include "pool.h"
#include "stats.h"
#include "stripe.h"

struct pool pool;

/* Guards joining and leaving: the users count, and opening and closing
 * the contexts, which happen only while nobody else uses them.
 */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned users;
static bool exited;             /* .cleanup closed the pool for good */
static char *served_export;     /* what the contexts were opened with */
static int served_readonly;

void
pool_set_locking (bool lock_each)
{
  unsigned i;

  pool.lock_each = lock_each;
  for (i = 0; i < MULTICOPY_CONNECTIONS_MAX; ++i)
    pthread_mutex_init (&pool.ctx_lock[i], NULL);
}

/* The answers of context i, merged into p's (i == 0 sets them). */
static int
ask (struct pool *p, unsigned i)
{
  nbdkit_next *c = p->ctx[i];
  struct export_caps one;
  char name[64];

  one.size = c->get_size (c);
  one.can_write = c->can_write (c);
  one.can_flush = c->can_flush (c);
  one.can_fua = c->can_fua (c);
  one.can_trim = c->can_trim (c);
  one.can_zero = c->can_zero (c);
  one.can_fast_zero = c->can_fast_zero (c);
  one.can_cache = c->can_cache (c);
  one.can_extents = c->can_extents (c);
  one.is_rotational = c->is_rotational (c);
  if (one.size == -1 || one.can_write == -1 || one.can_flush == -1 ||
      one.can_fua == -1 || one.can_trim == -1 || one.can_zero == -1 ||
      one.can_fast_zero == -1 || one.can_cache == -1 ||
      one.can_extents == -1 || one.is_rotational == -1 ||
      c->block_size (c, &one.blocks.min, &one.blocks.pref,
                     &one.blocks.max) == -1)
    return -1;
  snprintf (name, sizeof name, "multicopy: backend context %u", i);
  return export_caps_merge (&p->caps, &one, i == 0, name, "context 0");
}

struct flush_job {
  unsigned i;
  uint32_t flags;
  uint64_t ticket;              /* dirty.h */
  int r;
  int err;
  pthread_t thread;
  bool threaded;
};

static void *
flush_one (void *vp)
{
  struct flush_job *job = vp;
  nbdkit_next *c = pool.ctx[job->i];

  pool_ctx_lock (job->i);
  job->r = c->flush (c, job->flags, &job->err);
  pool_ctx_unlock (job->i);
  stats_count (&pool.stats[job->i], STATS_FLUSH, 0);
  /* Told before it ends: a flush that waited for this one relies on
   * its client's errseq check.
   */
  if (job->r == -1) {
    errseq_record (&pool.losses);
    atomic_fetch_add_explicit (&pool.stats[job->i].lost_writes, 1,
                               memory_order_relaxed);
  }
  dirty_flush_end (&pool.dirty[job->i], job->ticket);
  return NULL;
}

int
pool_flush (uint32_t flags, int *err)
{
  struct flush_job jobs[MULTICOPY_CONNECTIONS_MAX];
  uint64_t tickets[MULTICOPY_CONNECTIONS_MAX];
  uint64_t waits = 0;           /* bit i: waits for another's flush */
  bool parallel = !pool.lock_each;
  unsigned i, n = 0;
  int r = 0;

  for (i = 0; i < pool.nr; ++i) {
    switch (dirty_flush_begin (&pool.dirty[i], true, &tickets[i])) {
    case DIRTY_CLEAN:
      break;
    case DIRTY_WAIT:
      waits |= UINT64_C (1) << i;
      break;
    case DIRTY_SEND:
      jobs[n++] = (struct flush_job) {
        .i = i, .flags = flags, .ticket = tickets[i],
      };
      break;
    }
  }
  /* The last one is flushed by this thread, after starting the others:
   * a client that wrote to one context since its last flush (fsync
   * after each write) starts no thread at all.
   */
  for (i = 0; parallel && i + 1 < n; ++i)
    jobs[i].threaded =
      pthread_create (&jobs[i].thread, NULL, flush_one, &jobs[i]) == 0;
  for (i = n; i-- > 0; ) {
    if (jobs[i].threaded)
      pthread_join (jobs[i].thread, NULL);
    else
      flush_one (&jobs[i]);
  }
  /* After our own have ended, so that two flushes never wait for each
   * other.  A loss in a flush waited for is told by the caller's errseq
   * check.
   */
  for (i = 0; i < pool.nr; ++i)
    if (waits & (UINT64_C (1) << i))
      dirty_flush_wait (&pool.dirty[i], tickets[i]);
  /* Every context has been flushed; report the first failure. */
  for (i = 0; i < n; ++i) {
    if (jobs[i].r == -1 && r == 0) {
      *err = jobs[i].err ? jobs[i].err : EIO;
      r = -1;
    }
  }
  return r;
}

/* flush: the last client is gone, from a pool that was fully opened.
 * Nothing acknowledged may stay in a context's cache, so flush before
 * closing.  Failures can only be logged now.
 */
static void
close_all (bool flush, const char *when)
{
  unsigned i;
  int err;

  if (flush && pool.caps.can_flush == 1) {
    if (pool_flush (0, &err) == -1)
      nbdkit_error ("multicopy: flushing %s: %s; writes acknowledged to "
                    "clients may not have reached the plugin's storage",
                    when, strerror (err));
    else
      nbdkit_debug ("multicopy: every context flushed %s", when);
  }
  for (i = 0; i < pool.nr; ++i) {
    nbdkit_next *c = pool.ctx[i];

    if (pool.prepared[i] && c->finalize (c) == -1)
      nbdkit_error ("multicopy: context %u of %u failed to finalize",
                    i, pool.nr);
    pool.prepared[i] = false;
    dirty_init (&pool.dirty[i]);
    nbdkit_next_context_close (c);
    pool.ctx[i] = NULL;
  }
  pool.nr = 0;
  free (served_export);
  served_export = NULL;
}

static int
open_all (nbdkit_context *context, unsigned nr, uint64_t segment_size,
          int readonly, const char *exportname)
{
  nbdkit_backend *backend = nbdkit_context_get_backend (context);
  unsigned i;

  served_export = strdup (exportname);
  if (served_export == NULL) {
    nbdkit_error ("strdup: %m");
    return -1;
  }
  served_readonly = readonly;
  for (i = 0; i < nr; ++i) {
    pool.ctx[i] = nbdkit_next_context_open (backend, readonly, exportname, 1);
    if (pool.ctx[i] == NULL) {
      below_open_failed (i, nr);
      goto fail;
    }
    pool.nr++;
  }
  /* nbdkit asserts that a context was prepared, and asked every
   * question the data path relies on, before it is used.
   */
  for (i = 0; i < nr; ++i) {
    if (pool.ctx[i]->prepare (pool.ctx[i]) == -1)
      goto fail;
    pool.prepared[i] = true;
  }
  for (i = 0; i < nr; ++i)
    if (ask (&pool, i) == -1)
      goto fail;

  if (multicopy_check_block_size (segment_size, pool.caps.blocks.min,
                                  pool.caps.blocks.pref, "plugin") == -1)
    goto fail;
  /* Plugins such as nbd do not split for an upstream limit. */
  pool.max_piece = pool.caps.blocks.max == 0xffffffff ? 0 : pool.caps.blocks.max;
  /* The parameters were checked at config time. */
  if (stripe_map_init (&pool.map, segment_size, nr) == -1)
    abort ();
  return 0;

 fail:
  close_all (false, NULL);
  return -1;
}

int
pool_join (nbdkit_context *context, unsigned nr, uint64_t segment_size,
           int readonly, const char *exportname)
{
  int r = -1;

  pthread_mutex_lock (&pool_lock);
  if (exited) {
    nbdkit_error ("multicopy: nbdkit is shutting down");
    goto out;
  }
  if (users == 0) {
    if (open_all (context, nr, segment_size, readonly, exportname) == -1)
      goto out;
  }
  else if (strcmp (exportname, served_export) != 0 ||
           readonly != served_readonly) {
    nbdkit_error ("multicopy: this client asks for export \"%s\"%s, but "
                  "the contexts that all clients share serve \"%s\"%s; "
                  "try again when the other clients have left",
                  exportname, readonly ? " read-only" : "",
                  served_export, served_readonly ? " read-only" : "");
    goto out;
  }
  users++;
  r = 0;
 out:
  pthread_mutex_unlock (&pool_lock);
  return r;
}

void
pool_leave (void)
{
  pthread_mutex_lock (&pool_lock);
  if (--users == 0 && !exited)
    close_all (true, "as the last client left");
  pthread_mutex_unlock (&pool_lock);
}

void
pool_exit (void)
{
  pthread_mutex_lock (&pool_lock);
  if (users > 0 && !exited)
    close_all (true, "at exit");
  exited = true;
  pthread_mutex_unlock (&pool_lock);
}
