/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: what one client connection has been told of lost
 * writes (errseq.h), the plugin and the filter alike.  A client hears
 * of a loss at its next flush and, because some clients ignore a
 * failed flush (qemu-img 7.2 exits 0 after one), at its next write,
 * zero or trim too: each once.
 */

#ifndef MULTICOPY_CLIENT_LOSSES_H
#define MULTICOPY_CLIENT_LOSSES_H

#include <stdatomic.h>

#include "errseq.h"

struct client_losses {
  atomic_uint seen_by_flush;
  atomic_uint seen_by_write;
};

/* When the client connects: losses before this are not its own. */
extern void client_losses_init (struct client_losses *c,
                                struct errseq *losses);

/* Before a write, zero or trim: 0, or -1 with *err set to EIO (and the
 * reason logged) if writes were lost since this client last heard.
 */
extern int client_losses_before_write (struct client_losses *c,
                                       struct errseq *losses, int *err);

/* After the client's flush, which returned r (0 or -1 with *err set),
 * so that a loss during it counts: r, or -1 with *err set to EIO if a
 * flush that succeeded must fail for a loss.
 */
extern int client_losses_after_flush (struct client_losses *c,
                                      struct errseq *losses, int r,
                                      int *err);

#endif /* MULTICOPY_CLIENT_LOSSES_H */
