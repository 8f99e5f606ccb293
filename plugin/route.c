/* nbdkit-multicopy plugin: where a client request is split and each
 * piece is sent on the connection that owns its stripe.
 */

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libnbd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "completion.h"
#include "pool.h"
#include "route.h"
#include "stripe.h"

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

/* libnbd refused to queue the command: usually the connection is dead. */
static int
issue_error (struct upstream *u)
{
  int err = nbd_get_errno ();

  nbdkit_error ("upstream connection %u: %s", u->index, nbd_get_error ());
  if (nbd_aio_is_dead (u->nbd) || nbd_aio_is_closed (u->nbd))
    return EIO;
  return err ? err : EIO;
}

int
route_request (enum route_op op, void *buf, uint32_t count,
               uint64_t offset, uint32_t lflags)
{
  const bool data = op == ROUTE_READ || op == ROUTE_WRITE;
  const bool writes = op == ROUTE_WRITE || op == ROUTE_ZERO ||
    op == ROUTE_TRIM;
  uint64_t max = data ? pool.max_payload : pool.max_command;
  uint64_t off = offset, remaining = count;
  uint64_t used = 0;            /* bit i: connection i got a piece */
  struct stripe_piece p;
  struct request req;
  unsigned i;
  int r;

  request_init (&req);
  while (stripe_next_piece (&pool.map, &off, &remaining, max, &p)) {
    struct upstream *u = &pool.conn[p.owner];
    void *pbuf = buf ? (char *) buf + (p.offset - offset) : NULL;

    used |= UINT64_C (1) << p.owner;
    request_hold (&req);
    if (issue (op, u, pbuf, &p, lflags, request_callback (&req)) == -1) {
      request_release (&req, issue_error (u));
      break;
    }
    upstream_issued (u);
    atomic_fetch_add_explicit (&u->requests, 1, memory_order_relaxed);
    if (data)
      atomic_fetch_add_explicit (&u->bytes, p.count, memory_order_relaxed);
  }
  r = request_wait (&req);

  /* Mark before the client sees the reply, so that any flush it sends
   * after it covers these connections.  Even a failed write may have
   * changed something.  FUA already made every piece durable.
   */
  if (writes && !(lflags & LIBNBD_CMD_FLAG_FUA)) {
    for (i = 0; used; ++i, used >>= 1)
      if (used & 1)
        atomic_store (&pool.conn[i].dirty, true);
  }
  return r;
}

struct extent_sink {
  struct nbdkit_extents *extents;
  uint64_t end;                 /* end of the owning stripe */
};

static int
add_extents (void *vp, const char *metacontext, uint64_t offset,
             uint32_t *entries, size_t nr_entries, int *error)
{
  struct extent_sink *sink = vp;
  size_t i;

  if (*error || strcmp (metacontext, LIBNBD_CONTEXT_BASE_ALLOCATION) != 0)
    return 0;
  for (i = 0; i + 1 < nr_entries && offset < sink->end; i += 2) {
    uint64_t len = entries[i];

    if (len > sink->end - offset)
      len = sink->end - offset;
    /* NBD_STATE_HOLE and _ZERO are the same bits as NBDKIT_EXTENT_*. */
    if (nbdkit_add_extent (sink->extents, offset, len, entries[i+1]) == -1) {
      *error = errno;
      return -1;
    }
    offset += entries[i];
  }
  return 0;
}

int
route_extents (uint32_t count, uint64_t offset, uint32_t lflags,
               struct nbdkit_extents *extents)
{
  uint64_t off = offset, remaining = count;
  struct stripe_piece p;
  struct request req;
  struct upstream *u;
  struct extent_sink sink = { .extents = extents };
  nbd_extent_callback cb = { .callback = add_extents, .user_data = &sink };

  /* Only the first piece: nbdkit accepts fewer extents than asked. */
  if (!stripe_next_piece (&pool.map, &off, &remaining, 0, &p)) {
    nbdkit_set_error (EINVAL);  /* nbdkit never asks for 0 bytes */
    return -1;
  }
  sink.end = p.offset + p.count;
  u = &pool.conn[p.owner];

  request_init (&req);
  request_hold (&req);
  if (nbd_aio_block_status (u->nbd, p.count, p.offset, cb,
                            request_callback (&req), lflags) == -1)
    request_release (&req, issue_error (u));
  else {
    upstream_issued (u);
    atomic_fetch_add_explicit (&u->requests, 1, memory_order_relaxed);
  }
  return request_wait (&req);
}
