/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: flushing the upstream connections. */

#ifndef MULTICOPY_FLUSH_H
#define MULTICOPY_FLUSH_H

/* A client's flush: flush every upstream connection that may hold
 * writes a client has seen acknowledged, in parallel.  0, or -1 with
 * nbdkit's error set; a failure counts as a loss (losses.h).
 */
extern int flush_dirty (void);

/* .cleanup: flush what clients left unflushed, each connection on its
 * own, within shutdown-timeout; connections still flushing then are
 * cut.  Logs which connections, and so which stripes, could not be
 * flushed.
 */
extern void flush_at_exit (void);

#endif /* MULTICOPY_FLUSH_H */
