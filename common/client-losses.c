/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: telling a client connection of lost writes. */

#include <errno.h>
#include <stdatomic.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "client-losses.h"

void
client_losses_init (struct client_losses *c, struct errseq *losses)
{
  atomic_init (&c->seen_by_flush, errseq_sample (losses));
  atomic_init (&c->seen_by_write, errseq_sample (losses));
}

int
client_losses_before_write (struct client_losses *c, struct errseq *losses,
                            int *err)
{
  if (!errseq_check_and_advance (losses, &c->seen_by_write))
    return 0;
  nbdkit_error ("write: writes acknowledged since this client connected "
                "may have been lost below before a flush covered them; "
                "this write fails so that the client stops");
  *err = EIO;
  return -1;
}

int
client_losses_after_flush (struct client_losses *c, struct errseq *losses,
                           int r, int *err)
{
  if (!errseq_check_and_advance (losses, &c->seen_by_flush) || r == -1)
    return r;
  nbdkit_error ("flush: writes acknowledged since this client connected "
                "may have been lost below before a flush covered them");
  *err = EIO;
  return -1;
}
