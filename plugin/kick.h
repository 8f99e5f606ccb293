/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: waking a connection's I/O thread, which
 * may be asleep polling for replies only.
 */

#ifndef MULTICOPY_KICK_H
#define MULTICOPY_KICK_H

#include <libnbd.h>

struct upstream;

/* Wake the thread, to poll for what libnbd wants now. */
extern void io_thread_kick (struct upstream *u);

/* Once the thread is awake: clear the kicks (the eventfd is
 * non-blocking).
 */
extern void io_thread_drain_kicks (struct upstream *u);

/* After issuing a command: the caller's nbd_aio_* call already sent
 * what the socket would take.  Only if bytes are left over does the
 * thread, which may be asleep polling for replies only, need waking
 * to poll for POLLOUT too.
 */
static inline void
upstream_issued (struct upstream *u, struct nbd_handle *nbd)
{
  if (nbd_aio_get_direction (nbd) & LIBNBD_AIO_DIRECTION_WRITE)
    io_thread_kick (u);
}

#endif /* MULTICOPY_KICK_H */
