/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: between poll(2) and libnbd's state machine,
 * for the loops that drive handles themselves (connecting, and the
 * I/O threads).
 */

#ifndef MULTICOPY_AIO_EVENTS_H
#define MULTICOPY_AIO_EVENTS_H

#include <poll.h>

#include <libnbd.h>

/* Poll events for what libnbd wants next, 0 if it wants nothing. */
static inline short
aio_poll_events (struct nbd_handle *nbd)
{
  unsigned dir = nbd_aio_get_direction (nbd);

  return ((dir & LIBNBD_AIO_DIRECTION_READ) ? POLLIN : 0) |
    ((dir & LIBNBD_AIO_DIRECTION_WRITE) ? POLLOUT : 0);
}

/* Tell libnbd what poll saw.  Errors and hangups go to whichever side
 * libnbd is waiting on, so that a refused connect or a cut connection
 * is reported as such rather than left to time out.  Another thread
 * may have moved the state machine since the poll: ask again.
 */
static inline int
aio_notify (struct nbd_handle *nbd, short revents)
{
  unsigned dir = nbd_aio_get_direction (nbd);

  if ((dir & LIBNBD_AIO_DIRECTION_READ) &&
      (revents & (POLLIN | POLLHUP | POLLERR)))
    return nbd_aio_notify_read (nbd);
  if ((dir & LIBNBD_AIO_DIRECTION_WRITE) &&
      (revents & (POLLOUT | POLLHUP | POLLERR)))
    return nbd_aio_notify_write (nbd);
  return 0;
}

#endif /* MULTICOPY_AIO_EVENTS_H */
