/* nbdkit-multicopy plugin: flush fan-out, and what a flush reports.
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
 * Writes can be lost before a flush covers them: the connection that
 * held them is lost (reconnect.c), or an upstream flush fails.  Every
 * client connected at that moment must see its next flush fail, not
 * only the first one to flush (errseq.h).
 */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <libnbd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "completion.h"
#include "errseq.h"
#include "flush.h"
#include "pool.h"

static struct errseq losses;

void
flush_writes_lost (struct upstream *u)
{
  atomic_fetch_add_explicit (&u->losses, 1, memory_order_relaxed);
  errseq_record (&losses);
  nbdkit_error ("upstream connection %u was lost while it held writes that "
                "no flush had covered; they may not have reached the "
                "upstream's storage, and the next flush of every client "
                "connected now will fail", u->index);
}

unsigned
flush_losses_sample (void)
{
  return errseq_sample (&losses);
}

bool
flush_losses_since (atomic_uint *seen)
{
  return errseq_check_and_advance (&losses, seen);
}

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
  }
  if (err) {
    /* The upstream may have dropped what it could not write (Linux
     * does): a flush retried later could succeed with nothing to
     * write, so every client must hear of this one.
     */
    errseq_record (&losses);
    nbdkit_set_error (upstream_errno (err));
    return -1;
  }
  return 0;
}
