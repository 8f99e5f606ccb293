/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: where a completion wakes its waiter. */

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

#define WAIT_SLICE_MS 200

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

/* Wait on r->done until deadline_ms: false if it passed first.  In
 * slices of sem_timedwait, whose clock is the wall clock, checked
 * against the monotonic one.  (Not sem_clockwait: ThreadSanitizer
 * does not know it, and would miss that the post happens before.)
 */
static bool
wait_until (struct request *r, int64_t deadline_ms)
{
  for (;;) {
    int64_t left = deadline_ms - now_ms ();
    struct timespec ts;

    if (left <= 0)
      return sem_trywait (&r->done) == 0;
    if (left > WAIT_SLICE_MS)
      left = WAIT_SLICE_MS;
    ts = realtime_in_ms (left);
    if (sem_timedwait (&r->done, &ts) == 0)
      return true;
  }
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
  if (atomic_fetch_sub (&r->pending, 1) != 1)
    wait_done (r);
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
