/* nbdkit-multicopy plugin: where a completion wakes its waiter. */

#include <errno.h>
#include <semaphore.h>
#include <stdatomic.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "completion.h"

void
request_init (struct request *r)
{
  atomic_init (&r->pending, 1);
  atomic_init (&r->err, 0);
  sem_init (&r->done, 0, 0);
}

void
request_release (struct request *r, int err)
{
  if (err) {
    int none = 0;
    atomic_compare_exchange_strong (&r->err, &none, err);
  }
  /* After the last release the waiter may return and free r: touch
   * nothing of it but the semaphore post.
   */
  if (atomic_fetch_sub (&r->pending, 1) == 1)
    sem_post (&r->done);
}

int
request_completed (void *user_data, int *error)
{
  request_release (user_data, *error);
  return 1;                     /* retire the command in libnbd */
}

int
request_wait (struct request *r)
{
  int err;

  /* If every piece already finished, the issuer's own release is the
   * last one and nobody posted: no need to sleep.
   */
  if (atomic_fetch_sub (&r->pending, 1) != 1) {
    while (sem_wait (&r->done) == -1 && errno == EINTR)
      ;
  }
  sem_destroy (&r->done);

  err = atomic_load (&r->err);
  return err;
}

bool
connection_lost (int err)
{
  return err == ENOTCONN || err == ECONNRESET || err == ECONNABORTED ||
    err == EPIPE;
}

int
upstream_errno (int err)
{
  return err == 0 || connection_lost (err) ? EIO : err;
}
