/* nbdkit-multicopy filter: where a request is split and each piece is
 * sent to the pool context that owns its stripe; and the flush
 * fan-out.
 *
 * Pieces of one request go in turn, on the request's own thread:
 * nbdkit already runs many requests at once, and a request rarely
 * spans more than two stripes.  Flush is the exception: it must reach
 * every context, so under the parallel model it runs on all of them at
 * once.  A piece holds at most one context lock at a time.
 */

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <nbdkit-filter.h>

#include "fanout.h"
#include "pool.h"
#include "stripe.h"

static int
call_unlocked (nbdkit_next *c, enum fanout_op op, void *buf,
               const struct stripe_piece *p, uint32_t flags, int *err)
{
  switch (op) {
  case FANOUT_READ:
    return c->pread (c, buf, p->count, p->offset, flags, err);
  case FANOUT_WRITE:
    return c->pwrite (c, buf, p->count, p->offset, flags, err);
  case FANOUT_ZERO:
    return c->zero (c, p->count, p->offset, flags, err);
  case FANOUT_TRIM:
    return c->trim (c, p->count, p->offset, flags, err);
  case FANOUT_CACHE:
    return c->cache (c, p->count, p->offset, flags, err);
  }
  abort ();
}

static int
call (enum fanout_op op, void *buf, const struct stripe_piece *p,
      uint32_t flags, int *err)
{
  int r;

  pool_ctx_lock (p->owner);
  r = call_unlocked (pool.ctx[p->owner], op, buf, p, flags, err);
  pool_ctx_unlock (p->owner);
  /* Read before writing: most pieces find the flag already set. */
  if (r == 0 && op != FANOUT_READ && op != FANOUT_CACHE &&
      !atomic_load_explicit (&pool.dirty[p->owner], memory_order_relaxed))
    atomic_store (&pool.dirty[p->owner], true);
  return r;
}

int
fanout_request (enum fanout_op op, void *buf, uint32_t count,
                uint64_t offset, uint32_t flags, int *err)
{
  uint64_t off = offset, remaining = count;
  struct stripe_piece p;

  while (stripe_next_piece (&pool.map, &off, &remaining, pool.max_piece,
                            &p)) {
    void *pbuf = buf ? (char *) buf + (p.offset - offset) : NULL;

    if (call (op, pbuf, &p, flags, err) == -1)
      return -1;
  }
  return 0;
}

int
fanout_extents (uint32_t count, uint64_t offset, uint32_t flags,
                struct nbdkit_extents *extents, int *err)
{
  uint64_t off = offset, remaining = count;
  struct stripe_piece p;
  struct nbdkit_extents *mine;
  nbdkit_next *c;
  size_t i, n;
  int got, r = -1;

  if (!stripe_next_piece (&pool.map, &off, &remaining, 0, &p)) {
    *err = EINVAL;              /* nbdkit never asks for 0 bytes */
    return -1;
  }
  /* Past the stripe another context owns the data: collect into an
   * object that ends there, which drops anything beyond it.
   */
  mine = nbdkit_extents_new (p.offset, p.offset + p.count);
  if (mine == NULL) {
    *err = errno;
    return -1;
  }
  c = pool.ctx[p.owner];
  pool_ctx_lock (p.owner);
  got = c->extents (c, p.count, p.offset, flags, mine, err);
  pool_ctx_unlock (p.owner);
  if (got == -1)
    goto out;
  n = nbdkit_extents_count (mine);
  for (i = 0; i < n; ++i) {
    struct nbdkit_extent e = nbdkit_get_extent (mine, i);
    if (nbdkit_add_extent (extents, e.offset, e.length, e.type) == -1) {
      *err = errno;
      goto out;
    }
  }
  r = 0;
 out:
  nbdkit_extents_free (mine);
  return r;
}

struct flush_job {
  unsigned i;
  uint32_t flags;
  int r;
  int err;
  pthread_t thread;
  bool threaded;
  bool skip;                    /* clean, and only dirty ones wanted */
};

static void *
flush_one (void *vp)
{
  struct flush_job *job = vp;
  nbdkit_next *c = pool.ctx[job->i];

  /* Cleared first: a write acknowledged while the flush runs sets it
   * again, and a failed flush leaves it set.
   */
  atomic_store (&pool.dirty[job->i], false);
  pool_ctx_lock (job->i);
  job->r = c->flush (c, job->flags, &job->err);
  pool_ctx_unlock (job->i);
  if (job->r == -1) {
    atomic_store (&pool.dirty[job->i], true);
    errseq_record (&pool.losses);
  }
  return NULL;
}

int
fanout_flush (uint32_t flags, bool only_dirty, int *err)
{
  struct flush_job jobs[MULTICOPY_CONNECTIONS_MAX];
  bool parallel = !pool.lock_each;
  unsigned i;
  int r = 0;

  for (i = 0; i < pool.nr; ++i) {
    jobs[i] = (struct flush_job) { .i = i, .flags = flags };
    jobs[i].skip = only_dirty && !atomic_load (&pool.dirty[i]);
    /* Context 0 is flushed by this thread, after starting the others. */
    if (parallel && i > 0 && !jobs[i].skip &&
        pthread_create (&jobs[i].thread, NULL, flush_one, &jobs[i]) == 0)
      jobs[i].threaded = true;
  }
  for (i = 0; i < pool.nr; ++i) {
    if (jobs[i].threaded)
      pthread_join (jobs[i].thread, NULL);
    else if (!jobs[i].skip)
      flush_one (&jobs[i]);
  }
  /* Every context has been flushed; report the first failure. */
  for (i = 0; i < pool.nr; ++i) {
    if (jobs[i].r == -1 && r == 0) {
      *err = jobs[i].err ? jobs[i].err : EIO;
      r = -1;
    }
  }
  return r;
}
