/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: a client request waiting for its pieces.
 *
 * A request lives on the stack of the nbdkit worker thread that serves
 * it.  Every piece it issues holds one reference; the issuer holds one
 * more until it has issued them all, so that early completions cannot
 * wake it too soon.  The last reference dropped by a completion posts
 * the semaphore.  No allocation per request or per piece.
 */

#ifndef MULTICOPY_COMPLETION_H
#define MULTICOPY_COMPLETION_H

#include <semaphore.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>

#include <libnbd.h>

struct request {
  atomic_uint pending;          /* pieces in flight + the issuer's hold */
  atomic_int err;               /* first error seen, 0 if none */
  sem_t done;
};

extern void request_init (struct request *r);

/* Before issuing a piece. */
static inline void
request_hold (struct request *r)
{
  atomic_fetch_add_explicit (&r->pending, 1, memory_order_relaxed);
}

/* A piece finished (err 0) or failed (err an errno). */
extern void request_release (struct request *r, int err);

/* A piece failed with err before it could be issued. */
static inline void
request_fail (struct request *r, int err)
{
  request_hold (r);
  request_release (r, err);
}

/* The libnbd completion callback; user_data is the request. */
extern int request_completed (void *user_data, int *error);

static inline nbd_completion_callback
request_callback (struct request *r)
{
  return (nbd_completion_callback) {
    .callback = request_completed, .user_data = r,
  };
}

/* Drop the issuer's hold and wait for every piece.  Returns 0, or the
 * first error (an errno as libnbd reported it).  Bounded by the I/O
 * threads, which cut a connection whose server does not answer by the
 * end of a shutdown's drain (shutdown.h).
 */
extern int request_wait (struct request *r);

/* The same, but if pieces are still out at deadline_ms (now_ms ()),
 * call expire (arg) once, which must make them complete (by cutting
 * their connections), and go on waiting.
 */
extern int request_wait_deadline (struct request *r, int64_t deadline_ms,
                                  void (*expire) (void *), void *arg);

/* On the I/O thread, after reading replies: whether one of them was
 * NBD_ESHUTDOWN, the server saying it is going away.
 */
extern bool completion_heard_goodbye (void);

/* The errno a client should see for an upstream error: losing the
 * connection is an I/O error (or ESHUTDOWN if nbdkit is shutting
 * down), anything the server said passes through.
 */
extern int upstream_errno (int err);

/* Whether err is how libnbd fails commands on a connection that was
 * lost (in flight on it, or issued after).
 */
extern bool connection_lost (int err);

#endif /* MULTICOPY_COMPLETION_H */
