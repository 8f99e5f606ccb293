/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: opening upstream connections. */

#ifndef MULTICOPY_CONNECT_H
#define MULTICOPY_CONNECT_H

#include <stdbool.h>

#include <stddef.h>

#include <libnbd.h>

/* Backoff between tries, at startup and when reconnecting. */
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS   5000

/* The pause after this one: twice as long, up to BACKOFF_MAX_MS. */
static inline int
backoff_next (int backoff)
{
  return backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
}

/* Once one handshake has finished, how long the others may still
 * take (plus twice what the first took), within connect-timeout.
 */
#define HANDSHAKE_GRACE_MS 1000

/* Why no connection came up. */
struct connect_failure {
  int err;                      /* errno of the first error */
  bool in_handshake;            /* the server said it, in the handshake */
  char msg[256];
};

/* Open wanted handles at once, handle i (named first + i) to server
 * servers[i] (config.servers).  One deadline, connect-timeout, bounds
 * all the handshakes, and once one of a server's is done the others of
 * that server get HANDSHAKE_GRACE_MS more; abort_fd (-1: none)
 * becoming readable ends them at once.  Fills handles[0..r-1] with the
 * handles that came up, servers_out[0..r-1] with their servers, and
 * returns r >= 0; why[s] gets the first failure of server s.  -1 if
 * one could not even start (why says) or abort_fd ended it.  Logs only
 * debug messages.
 */
extern int upstream_connect (struct nbd_handle **handles,
                             unsigned *servers_out, const unsigned *servers,
                             unsigned first, unsigned wanted, int abort_fd,
                             struct connect_failure *why);

/* .get_ready: connections= handles, connection i to server i mod S,
 * trying again with backoff for up to retry= seconds while a server
 * has none and its failure may pass (it is not up yet).  Returns r >=
 * 1, with at least one connection to every server, or -1 with the
 * error reported.
 */
extern int upstream_connect_at_start (struct nbd_handle **handles,
                                      unsigned *servers_out);

/* -D multicopy.verbose=1 */
extern int multicopy_debug_verbose;

#endif /* MULTICOPY_CONNECT_H */
