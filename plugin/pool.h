/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: opening and closing the pool. */

#ifndef MULTICOPY_POOL_H
#define MULTICOPY_POOL_H

/* .get_ready: connect, before nbdkit serves anyone.  -1 (reported) if
 * no connection came up.
 */
extern int pool_open (void);

/* .after_fork: start the I/O threads (and the shutdown watcher, and
 * the stats writer).
 */
extern int pool_start (void);

/* .cleanup, after the flush at exit (flush.h): the last stats, then
 * disconnect, each connection bounded, and free.
 */
extern void pool_close (void);

#endif /* MULTICOPY_POOL_H */
