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
 * A flush that finds a connection clean must still go to it while
 * another flush there is in flight: that one took the mark and may not
 * be done, and this one must not return before the data is durable.
 */

#ifndef MULTICOPY_DIRTY_H
#define MULTICOPY_DIRTY_H

#include <stdatomic.h>
#include <stdbool.h>

struct dirty {
  atomic_bool marked;
  atomic_uint flushing;         /* flushes in flight here */
};

static inline void
dirty_init (struct dirty *d)
{
  atomic_init (&d->marked, false);
  atomic_init (&d->flushing, 0);
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

/* Before a flush of this connection: whether it must go.  If true,
 * the flush counts as in flight until dirty_flush_end.
 */
static inline bool
dirty_flush_begin (struct dirty *d)
{
  /* Counted first, so that a flush that finds the mark gone sees us. */
  bool busy = atomic_fetch_add (&d->flushing, 1) > 0;

  if (atomic_exchange (&d->marked, false) || busy)
    return true;
  atomic_fetch_sub (&d->flushing, 1);
  return false;
}

/* The flush has completed, well or not. */
static inline void
dirty_flush_end (struct dirty *d)
{
  atomic_fetch_sub (&d->flushing, 1);
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
