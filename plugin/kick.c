/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: waking a connection's I/O thread. */

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "kick.h"
#include "upstream.h"

void
io_thread_kick (struct upstream *u)
{
  const uint64_t one = 1;

  /* EAGAIN means the counter is full: the thread is due to wake anyway. */
  if (write (u->kick_fd, &one, sizeof one) == -1 && errno != EAGAIN)
    nbdkit_debug ("upstream connection %u: kick: %m", u->index);
}

void
io_thread_drain_kicks (struct upstream *u)
{
  uint64_t n;

  if (read (u->kick_fd, &n, sizeof n) == -1 && errno != EAGAIN)
    nbdkit_debug ("upstream connection %u: kick: %m", u->index);
}
