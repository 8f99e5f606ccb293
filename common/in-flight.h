/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: the gate that keeps the pieces in flight below
 * (upstream connections of the plugin, contexts of the filter), over
 * all of them and all clients, within the limit of flow-limit.h.  A
 * piece over the limit waits in the worker thread that issues it, so
 * that ownership never changes: the piece still goes to its stripe's
 * owner, only later.
 */

#ifndef MULTICOPY_IN_FLIGHT_H
#define MULTICOPY_IN_FLIGHT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* max-in-flight=N (0: auto), once it is known how many connections
 * (or contexts) there are.
 */
extern void in_flight_init (unsigned connections, unsigned max);

/* Before issuing a piece: waits while the limit is reached.  Every
 * acquire that returns 0 is paired with one release, when the piece
 * completes or could not be issued.  -1: the stop condition came
 * true while it waited (nothing to release).
 */
extern int in_flight_acquire (void);

/* Waits for room end, with -1, once stop () returns true (it must be
 * cheap and may become true at any moment, in a signal handler too):
 * nbdkit is shutting down.
 */
extern void in_flight_stop_when (bool (*stop) (void));

/* rtt_us: how long the piece took (now_us () of clock.h), or -1 if
 * it was not timed (the plugin times only the first read or write
 * piece of each request: the others were issued behind it and would
 * count its wait as theirs).
 */
extern void in_flight_release (int64_t rtt_us);

/* The stats=FILE line: "in-flight=NOW limit=L auto|fixed most=M". */
extern void in_flight_print (FILE *fp);

#endif /* MULTICOPY_IN_FLIGHT_H */
