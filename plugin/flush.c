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

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <libnbd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "completion.h"
#include "pool.h"
#include "route.h"

int
flush_dirty (void)
{
  uint64_t sent = 0;            /* bit i: flushed connection i */
  struct request req;
  unsigned i;
  int r;

  request_init (&req);
  for (i = 0; i < pool.nr; ++i) {
    struct upstream *u = &pool.conn[i];
    bool busy = atomic_fetch_add (&u->flushing, 1) > 0;

    if (!atomic_exchange (&u->dirty, false) && !busy) {
      atomic_fetch_sub (&u->flushing, 1);
      continue;
    }
    sent |= UINT64_C (1) << i;
    request_hold (&req);
    if (nbd_aio_flush (u->nbd, request_callback (&req), 0) == -1) {
      nbdkit_error ("upstream connection %u: flush: %s",
                    i, nbd_get_error ());
      request_release (&req, EIO);
      continue;
    }
    upstream_issued (u);
    atomic_fetch_add_explicit (&u->flushes, 1, memory_order_relaxed);
  }
  r = request_wait (&req);

  for (i = 0; i < pool.nr; ++i) {
    if (!(sent & (UINT64_C (1) << i)))
      continue;
    /* We cannot tell which one failed: a failure leaves all of them
     * dirty, so that the next flush tries again.
     */
    if (r == -1)
      atomic_store (&pool.conn[i].dirty, true);
    atomic_fetch_sub (&pool.conn[i].flushing, 1);
  }
  return r;
}
