/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: telling every client of a lost write, once.
 *
 * multicopy advertises multi-conn, so a flush on any client connection
 * answers for every write acknowledged on any of them.  When writes
 * that a client may have seen acknowledged are lost before a flush
 * covered them (an upstream connection dropped, an upstream flush
 * failed), no flush that covers them may succeed.
 *
 * As Linux's errseq_t does for write-back errors and open files: a
 * counter is bumped at each loss; a client connection samples it when
 * it connects and, at each flush, fails if it moved since, taking the
 * new value.  So every client connected at the time of a loss fails
 * its next flush once, and one that connected later is not told.
 */

#ifndef MULTICOPY_ERRSEQ_H
#define MULTICOPY_ERRSEQ_H

#include <stdatomic.h>
#include <stdbool.h>

struct errseq {
  atomic_uint seq;
};

/* Writes may have been lost. */
static inline void
errseq_record (struct errseq *e)
{
  atomic_fetch_add (&e->seq, 1);
}

/* When a client connects. */
static inline unsigned
errseq_sample (struct errseq *e)
{
  return atomic_load (&e->seq);
}

/* After a client's flush has completed: whether writes were lost since
 * *seen, in which case *seen moves on so that the client is told once.
 * Of two flushes of one client that race, one is told.
 */
static inline bool
errseq_check_and_advance (struct errseq *e, atomic_uint *seen)
{
  unsigned now = atomic_load (&e->seq);
  unsigned old = atomic_load (seen);

  return old != now && atomic_compare_exchange_strong (seen, &old, now);
}

#endif /* MULTICOPY_ERRSEQ_H */
