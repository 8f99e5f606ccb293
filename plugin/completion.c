/* nbdkit-multicopy plugin: where a completion wakes its waiter. */

/* sem_clockwait, pthread_cond_clockwait */
#define _GNU_SOURCE

#include <errno.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "clock.h"
#include "completion.h"
#include "shutdown.h"

/* Replies are read, and their callbacks run, on the connection's I/O
 * thread, which looks at this after each read (io-thread.c).
 */
static _Thread_local bool heard_goodbye;

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
  if (*error == ESHUTDOWN)
    heard_goodbye = true;
  request_release (user_data, *error);
  return 1;                     /* retire the command in libnbd */
}

bool
completion_heard_goodbye (void)
{
  bool r = heard_goodbye;

  heard_goodbye = false;
  return r;
}

/* Wait on r->done until deadline_ms: false if it passed first. */
static bool
wait_until (struct request *r, int64_t deadline_ms)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  deadline_ms -= now_ms ();
  if (deadline_ms < 0)
    deadline_ms = 0;
  ts.tv_sec += deadline_ms / 1000;
  ts.tv_nsec += deadline_ms % 1000 * 1000000;
  if (ts.tv_nsec >= 1000000000) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000;
  }
  while (sem_clockwait (&r->done, CLOCK_MONOTONIC, &ts) == -1) {
    if (errno == ETIMEDOUT)
      return false;
  }
  return true;
}

static void
wait_done (struct request *r)
{
  while (sem_wait (&r->done) == -1 && errno == EINTR)
    ;
}

static int
finish (struct request *r)
{
  sem_destroy (&r->done);
  return atomic_load (&r->err);
}

int
request_wait (struct request *r)
{
  /* If every piece already finished, the issuer's own release is the
   * last one and nobody posted: no need to sleep.
   */
  if (atomic_fetch_sub (&r->pending, 1) != 1 &&
      !wait_until (r, now_ms () + REQUEST_LONG_WAIT_MS)) {
    /* Slow: if nbdkit is asked to shut down now, this must not hold
     * it up for ever (shutdown.c).
     */
    shutdown_wait_begin ();
    wait_done (r);
    shutdown_wait_end ();
  }
  return finish (r);
}

int
request_wait_deadline (struct request *r, int64_t deadline_ms,
                       void (*expire) (void *), void *arg)
{
  if (atomic_fetch_sub (&r->pending, 1) != 1 &&
      !wait_until (r, deadline_ms)) {
    expire (arg);
    wait_done (r);
  }
  return finish (r);
}

bool
connection_lost (int err)
{
  /* ESHUTDOWN: the server is going away (io-thread.c leaves it). */
  return err == ENOTCONN || err == ECONNRESET || err == ECONNABORTED ||
    err == EPIPE || err == ESHUTDOWN;
}

int
upstream_errno (int err)
{
  if (err == 0 || connection_lost (err))
    return shutdown_requested () ? ESHUTDOWN : EIO;
  return err;
}
