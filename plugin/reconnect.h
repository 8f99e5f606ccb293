/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: bringing a lost upstream connection back. */

#ifndef MULTICOPY_RECONNECT_H
#define MULTICOPY_RECONNECT_H

#include <stdbool.h>

struct upstream;
struct nbd_handle;

/* The I/O thread, on finding its handle dead or closed: replace it.
 * true once it has; false if the pool is stopping or nbdkit is
 * shutting down.
 */
extern bool upstream_reconnect (struct upstream *u);

/* A request that used connection u with generation gen failed because
 * u was lost.  Wait until u is back with a new handle (true), or until
 * reconnect-timeout has passed or nbdkit is shutting down (false).
 */
extern bool upstream_wait_back (struct upstream *u, unsigned gen);

/* Whether connection u lost the handle of generation gen, or is about
 * to (the server said it is going away).
 */
extern bool upstream_lost_since (struct upstream *u, unsigned gen);

#endif /* MULTICOPY_RECONNECT_H */
