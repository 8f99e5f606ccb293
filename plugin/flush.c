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
 *
 * A connection lost while it held such writes (reconnect.c) makes the
 * flush fail, once: the upstream may have dropped them, and a client
 * must not be told they are safe.
 */

#include <errno.h>
#include <pthread.h>
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
  int err;

  request_init (&req);
  for (i = 0; i < pool.nr; ++i) {
    struct upstream *u = &pool.conn[i];
    bool busy = atomic_fetch_add (&u->flushing, 1) > 0;
    int64_t r;

    if (!atomic_exchange (&u->dirty, false) && !busy) {
      atomic_fetch_sub (&u->flushing, 1);
      continue;
    }
    sent |= UINT64_C (1) << i;
    request_hold (&req);
    pthread_rwlock_rdlock (&u->handle_lock);
    r = nbd_aio_flush (u->nbd, request_callback (&req), 0);
    if (r == -1)
      nbdkit_error ("upstream connection %u: flush: %s",
                    i, nbd_get_error ());
    else
      upstream_issued (u);
    pthread_rwlock_unlock (&u->handle_lock);
    if (r == -1) {
      request_release (&req, EIO);
      continue;
    }
    atomic_fetch_add_explicit (&u->flushes, 1, memory_order_relaxed);
  }
  err = request_wait (&req);

  for (i = 0; i < pool.nr; ++i) {
    struct upstream *u = &pool.conn[i];

    if (sent & (UINT64_C (1) << i)) {
      /* We cannot tell which one failed: a failure leaves all of them
       * dirty, so that the next flush tries again.
       */
      if (err)
        atomic_store (&u->dirty, true);
      atomic_fetch_sub (&u->flushing, 1);
    }
    /* After the flushes, to catch a loss that happened during them. */
    if (atomic_exchange (&u->lost_writes, false)) {
      nbdkit_error ("flush: upstream connection %u was lost while it held "
                    "writes that no flush had covered; they may not have "
                    "reached the upstream's storage", i);
      if (!err)
        err = EIO;
    }
  }
  if (err) {
    nbdkit_set_error (upstream_errno (err));
    return -1;
  }
  return 0;
}
