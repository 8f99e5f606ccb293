/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: writes lost before a flush covered them.
 *
 * Writes can be lost between their acknowledgement and the flush that
 * would have covered them: the connection that held them is lost
 * (reconnect.c), or an upstream flush fails (flush.c).  The plugin
 * advertises multi-conn, so every flush answers for every acknowledged
 * write: every client connected at that moment must see its next
 * flush fail, not only the first one to flush (errseq.h).
 */

#include <stdatomic.h>
#include <stdbool.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "errseq.h"
#include "losses.h"
#include "upstream.h"

static struct errseq losses;

void
losses_on_connection (struct upstream *u, unsigned gen)
{
  unsigned seen = atomic_load (&u->lost_gen);

  /* lost_gen is the last generation counted, plus one. */
  do {
    if (seen > gen)
      return;
  } while (!atomic_compare_exchange_weak (&u->lost_gen, &seen, gen + 1));

  atomic_fetch_add_explicit (&u->stats.lost_writes, 1, memory_order_relaxed);
  errseq_record (&losses);
  nbdkit_error ("upstream connection %u was lost while it held writes that "
                "no flush had covered; they may not have reached the "
                "upstream's storage, and the next flush of every client "
                "connected now will fail", u->index);
}

void
losses_on_flush (struct upstream *u)
{
  atomic_fetch_add_explicit (&u->stats.lost_writes, 1, memory_order_relaxed);
  errseq_record (&losses);
}

struct errseq *
losses_errseq (void)
{
  return &losses;
}
