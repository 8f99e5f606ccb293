/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: which connections (plugin) or contexts (filter) a
 * flush must reach.  One rule for both front ends:
 *
 * A connection is dirty once a write, zero or trim on it succeeded
 * without FUA, before the client hears of it.  A FUA write is durable
 * when it is acknowledged; a failed one was never acknowledged.  A
 * flush takes the mark as it starts; a write acknowledged while it
 * runs marks the connection again.  A flush that fails does not put
 * the mark back: the loss is told to clients (errseq.h), once.
 *
 * A flush that finds a connection clean while another flush there is
 * in flight must not return before that one is done: it took the mark
 * and the data may not be durable yet.  It waits for the latest such
 * flush rather than sending one of its own: a flush covers every write
 * completed before it was sent, and the latest to take the mark was
 * sent after all the writes that marked before it.  So clients that
 * flush at once (fsync after every write) share upstream flushes.  If
 * that flush fails, its loss is told to every client (errseq.h),
 * before it counts as done.  Each flush that goes out gets a ticket,
 * in the order they took the mark; "done" is the latest ticket ended.
 */

#ifndef MULTICOPY_DIRTY_H
#define MULTICOPY_DIRTY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct dirty {
  atomic_bool marked;
  atomic_uint flushing;         /* flushes in flight here */
  pthread_mutex_t lock;         /* for the tickets */
  pthread_cond_t ended;
  uint64_t begun;               /* the latest ticket given out */
  uint64_t done;                /* the latest ticket whose flush ended */
};

static inline void
dirty_init (struct dirty *d)
{
  atomic_init (&d->marked, false);
  atomic_init (&d->flushing, 0);
  pthread_mutex_init (&d->lock, NULL);
  pthread_cond_init (&d->ended, NULL);
  d->begun = d->done = 0;
}

/* After a write, zero or trim without FUA succeeded.  Read before
 * writing: most pieces find the mark already set.
 */
static inline void
dirty_mark (struct dirty *d)
{
  if (!atomic_load_explicit (&d->marked, memory_order_relaxed))
    atomic_store (&d->marked, true);
}

/* What a flush must do on one connection. */
enum dirty_flush {
  DIRTY_CLEAN,                  /* nothing */
  DIRTY_SEND,                   /* send a flush; dirty_flush_end after */
  DIRTY_WAIT,                   /* dirty_flush_wait for another's */
};

/* Before a flush of this connection; *ticket is for dirty_flush_end
 * or dirty_flush_wait.  With may_wait false (the flush at exit, which
 * must be its own), a flush in flight makes this one go too.
 */
static inline enum dirty_flush
dirty_flush_begin (struct dirty *d, bool may_wait, uint64_t *ticket)
{
  enum dirty_flush r = DIRTY_CLEAN;

  pthread_mutex_lock (&d->lock);
  if (atomic_exchange (&d->marked, false) ||
      (!may_wait && d->done < d->begun))
    r = DIRTY_SEND;
  else if (d->done < d->begun)
    r = DIRTY_WAIT;
  if (r == DIRTY_SEND) {
    *ticket = ++d->begun;
    atomic_fetch_add (&d->flushing, 1);
  }
  else
    *ticket = d->begun;
  pthread_mutex_unlock (&d->lock);
  return r;
}

/* The flush of ticket has completed, well or not (a failure already
 * told, errseq.h).
 */
static inline void
dirty_flush_end (struct dirty *d, uint64_t ticket)
{
  pthread_mutex_lock (&d->lock);
  if (ticket > d->done) {
    d->done = ticket;
    pthread_cond_broadcast (&d->ended);
  }
  atomic_fetch_sub (&d->flushing, 1);
  pthread_mutex_unlock (&d->lock);
}

/* Until the flush of ticket, or a later one, has ended.  Bounded as
 * that flush is (the caller's front end bounds its flushes).
 */
static inline void
dirty_flush_wait (struct dirty *d, uint64_t ticket)
{
  pthread_mutex_lock (&d->lock);
  while (d->done < ticket)
    pthread_cond_wait (&d->ended, &d->lock);
  pthread_mutex_unlock (&d->lock);
}

/* The connection is lost or closing: whether it may have held writes
 * that a client saw acknowledged and no flush covered.  Takes the mark.
 */
static inline bool
dirty_take (struct dirty *d)
{
  return atomic_exchange (&d->marked, false) ||
    atomic_load (&d->flushing) > 0;
}

#endif /* MULTICOPY_DIRTY_H */
