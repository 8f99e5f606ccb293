/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: a lost connection costs no data.  Each
 * upstream connection keeps a replay log (common/replay-log.h) of the
 * writes, zeroes and trims it acknowledged that no flush of it has
 * covered; when the connection is lost, the log is sent again on the
 * new connection, and flushed, before that connection takes anything
 * new.  replay-buffer= bounds all the logs together.
 */

#ifndef MULTICOPY_REPLAY_H
#define MULTICOPY_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include <libnbd.h>

#include "replay-log.h"
#include "route-op.h"
#include "stripe.h"

struct upstream;

/* What each log takes, at least: two of the largest pieces. */
extern uint64_t replay_share_min (uint64_t largest_piece);

/* pool_open: u will have a log of start bytes that may grow to share
 * bytes (0: replay is off), mapped by replay_alloc in pool_start,
 * after nbdkit's fork (-1 if out of memory, reported).
 */
extern void replay_init (struct upstream *u, uint64_t start, uint64_t share);
extern int replay_alloc (struct upstream *u);
extern void replay_free (struct upstream *u);

/* Whether the connections keep replay logs. */
extern bool replay_on (void);

/* Before issuing a piece that changes data (not FUA: FUA made it
 * durable): reserve its entry in u's log, waiting for room (an
 * internal flush of u makes some).  *e is NULL when replay is off.
 * -1 with an errno if the wait was cut short: nbdkit is shutting down
 * (ESHUTDOWN), or u has been down longer than reconnect-timeout (EIO).
 */
extern int replay_reserve (struct upstream *u, enum route_op op,
                           const struct stripe_piece *p, uint32_t lflags,
                           const void *src, struct replay_entry **e);

/* The piece of e completed (ok) or failed, or could not be issued: on
 * whatever thread libnbd runs the completion.  Copies its data.
 */
extern void replay_complete (struct upstream *u, struct replay_entry *e,
                             bool ok);

/* Before sending a flush on u, and once it succeeded: free what it
 * covered.
 */
extern uint64_t replay_mark (struct upstream *u);
extern void replay_covered (struct upstream *u, uint64_t mark);

/* Whether u's log holds writes to send again. */
extern bool replay_holds (struct upstream *u);

/* The I/O thread, with nbd, a new handle for u not yet in place: send
 * u's log on it, in order, and flush it.  0: done, the log is free;
 * -1: nbd was lost too, or the wait was ended (the log is kept, for
 * the next handle); -2: the server refused them (logged; what the log
 * held is lost, and forgotten).
 */
extern int replay_onto (struct upstream *u, struct nbd_handle *nbd);

#endif /* MULTICOPY_REPLAY_H */
