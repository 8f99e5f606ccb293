/* nbdkit-multicopy plugin: the pool's lifecycle.
 *
 * Connections open in .get_ready, while nbdkit can still print an
 * error and exit before serving anyone; libnbd starts no threads, so
 * they survive nbdkit's fork.  The I/O threads start in .after_fork.
 * At exit every dirty connection is flushed before it is closed.
 */

#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libnbd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "config.h"
#include "connect.h"
#include "flush.h"
#include "params.h"
#include "pool.h"

struct pool pool;

/* The libnbd answers are -1 on error; an error counts as "cannot". */
static int
read_caps (unsigned i, struct nbd_handle *nbd, struct upstream_caps *c)
{
  int64_t min, pref, max;

  c->size = nbd_get_size (nbd);
  min = nbd_get_block_size (nbd, LIBNBD_SIZE_MINIMUM);
  pref = nbd_get_block_size (nbd, LIBNBD_SIZE_PREFERRED);
  max = nbd_get_block_size (nbd, LIBNBD_SIZE_MAXIMUM);
  if (c->size == -1 || min == -1 || pref == -1 || max == -1) {
    nbdkit_error ("upstream connection %u: %s", i, nbd_get_error ());
    return -1;
  }
  /* A partial answer is no answer (as nbdkit's nbd plugin treats it). */
  if (min == 0 || pref == 0 || max == 0 || max > UINT32_MAX)
    min = pref = max = 0;
  c->block_min = min;
  c->block_pref = pref;
  c->block_max = max;

  c->can_write = nbd_is_read_only (nbd) == 0;
  c->can_flush = nbd_can_flush (nbd) == 1;
  c->can_fua = nbd_can_fua (nbd) == 1;
  c->can_trim = nbd_can_trim (nbd) == 1;
  c->can_zero = nbd_can_zero (nbd) == 1;
  c->can_fast_zero = nbd_can_fast_zero (nbd) == 1;
  c->can_cache = nbd_can_cache (nbd) == 1;
  c->can_extents =
    nbd_can_meta_context (nbd, LIBNBD_CONTEXT_BASE_ALLOCATION) == 1;
  c->is_rotational = nbd_is_rotational (nbd) == 1;
  c->can_multi_conn = nbd_can_multi_conn (nbd) == 1;
  c->description = NULL;
  return 0;
}

/* Requests go to every connection, so use what all of them can do. */
static int
merge_caps (unsigned i, struct upstream_caps *all,
            const struct upstream_caps *c)
{
  if (c->size != all->size) {
    nbdkit_error ("upstream connection %u reports size %" PRIi64
                  ", connection 0 reports %" PRIi64
                  ": are they the same export?", i, c->size, all->size);
    return -1;
  }
  all->can_write &= c->can_write;
  all->can_flush &= c->can_flush;
  all->can_fua &= c->can_fua;
  all->can_trim &= c->can_trim;
  all->can_zero &= c->can_zero;
  all->can_fast_zero &= c->can_fast_zero;
  all->can_cache &= c->can_cache;
  all->can_extents &= c->can_extents;
  all->can_multi_conn &= c->can_multi_conn;
  all->is_rotational |= c->is_rotational;
  if (c->block_min > all->block_min)
    all->block_min = c->block_min;
  if (c->block_pref > all->block_pref)
    all->block_pref = c->block_pref;
  if (c->block_max && (all->block_max == 0 || c->block_max < all->block_max))
    all->block_max = c->block_max;
  return 0;
}

int
pool_open (void)
{
  struct nbd_handle *handles[MULTICOPY_CONNECTIONS_MAX];
  struct upstream_caps c;
  char *description;
  unsigned i;
  int n;

  n = upstream_connect_at_start (handles);
  if (n == -1)
    return -1;

  if (read_caps (0, handles[0], &pool.caps) == -1)
    goto err;
  for (i = 1; i < (unsigned) n; ++i)
    if (read_caps (i, handles[i], &c) == -1 ||
        merge_caps (i, &pool.caps, &c) == -1)
      goto err;
  description = nbd_get_export_description (handles[0]);
  pool.caps.description = description; /* NULL if none */

  if (multicopy_check_block_size (config.segment_size,
                                  pool.caps.block_min,
                                  pool.caps.block_pref, "upstream") == -1)
    goto err;

  pool.max_payload = MULTICOPY_DEFAULT_MAX_PAYLOAD;
  if (pool.caps.block_max && pool.caps.block_max < pool.max_payload)
    pool.max_payload = pool.caps.block_max;
  pool.max_command = pool.caps.block_max;

  pool.conn = calloc (n, sizeof *pool.conn);
  if (pool.conn == NULL) {
    nbdkit_error ("calloc: %m");
    goto err;
  }
  for (i = 0; i < (unsigned) n; ++i) {
    struct upstream *u = &pool.conn[i];

    pthread_rwlock_init (&u->handle_lock, NULL);
    u->nbd = handles[i];
    u->fd = nbd_aio_get_fd (u->nbd);
    atomic_init (&u->gen, 0);
    pthread_mutex_init (&u->state_lock, NULL);
    pthread_cond_init (&u->up_cond, NULL);
    u->up = true;
    u->index = i;
    u->kick_fd = -1;
    atomic_init (&u->stopping, false);
    atomic_init (&u->dirty, false);
    atomic_init (&u->flushing, 0);
  }
  pool.nr = n;
  stripe_map_init (&pool.map, config.segment_size, n);

  /* nbdkit has no warning call: .get_ready runs before nbdkit forks,
   * so stderr is still where the user looks.
   */
  if ((unsigned) n < config.connections) {
    fprintf (stderr, "nbdkit: multicopy: warning: only %d of %u upstream "
             "connections came up within connect-timeout; going on with %d "
             "(does the upstream limit connections, like qemu-nbd "
             "without -e?)\n", n, config.connections, n);
    nbdkit_debug ("using %d of %u upstream connections",
                  n, config.connections);
  }
  nbdkit_debug ("upstream: %d connections, size %" PRIi64
                ", block size %" PRIu32 "/%" PRIu32 "/%" PRIu32
                ", upstream multi-conn %d, stripe %" PRIu64,
                n, pool.caps.size, pool.caps.block_min,
                pool.caps.block_pref, pool.caps.block_max,
                pool.caps.can_multi_conn, config.segment_size);
  return 0;

 err:
  for (i = 0; i < (unsigned) n; ++i)
    nbd_close (handles[i]);
  free (pool.caps.description);
  pool.caps.description = NULL;
  return -1;
}

int
pool_check_reconnected (unsigned i, struct nbd_handle *nbd)
{
  struct upstream_caps c;
  const struct upstream_caps *all = &pool.caps;

  if (read_caps (i, nbd, &c) == -1)
    return -1;
  if (c.size != all->size) {
    nbdkit_error ("upstream connection %u reconnected to an export of size %"
                  PRIi64 ", not %" PRIi64 ": refusing it", i, c.size,
                  all->size);
    return -1;
  }
  /* Clients were told the pool can do these: it still must. */
  if ((all->can_write && !c.can_write) || (all->can_flush && !c.can_flush) ||
      (all->can_fua && !c.can_fua) || (all->can_trim && !c.can_trim) ||
      (all->can_zero && !c.can_zero) ||
      (all->can_fast_zero && !c.can_fast_zero) ||
      (all->can_cache && !c.can_cache) ||
      (all->can_extents && !c.can_extents) ||
      (c.block_min > all->block_min) ||
      (c.block_max && c.block_max < pool.max_payload)) {
    nbdkit_error ("upstream connection %u reconnected to a server that can "
                  "do less than before: refusing it", i);
    return -1;
  }
  return 0;
}

int
pool_start (void)
{
  unsigned i;

  for (i = 0; i < pool.nr; ++i)
    if (io_thread_start (&pool.conn[i]) == -1)
      return -1;
  return 0;
}

void
pool_close (void)
{
  unsigned i;
  bool running = pool.nr > 0 && pool.conn[0].io_thread_started;

  if (pool.conn == NULL)
    return;

  /* nbdkit has finished with every client: nothing else is in flight. */
  if (running && pool.caps.can_flush && flush_dirty () == -1)
    nbdkit_error ("flush at exit failed: data written by clients may not "
                  "have reached the upstream's storage");

  for (i = 0; i < pool.nr; ++i) {
    struct upstream *u = &pool.conn[i];

    /* The I/O thread owns the handle: it sends the disconnect. */
    atomic_store (&u->stopping, true);
    io_thread_stop (u);
    nbdkit_debug ("upstream connection %u: %" PRIuFAST64 " requests, %"
                  PRIuFAST64 " bytes of data, %" PRIuFAST64 " flushes, %"
                  PRIuFAST64 " reconnects",
                  i, atomic_load (&u->requests), atomic_load (&u->bytes),
                  atomic_load (&u->flushes), atomic_load (&u->reconnects));
    nbd_close (u->nbd);
    if (u->kick_fd >= 0)
      close (u->kick_fd);
    pthread_rwlock_destroy (&u->handle_lock);
    pthread_mutex_destroy (&u->state_lock);
    pthread_cond_destroy (&u->up_cond);
  }
  free (pool.conn);
  pool.conn = NULL;
  pool.nr = 0;
  free (pool.caps.description);
  pool.caps.description = NULL;
}
