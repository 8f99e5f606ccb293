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

/* Paths are upstream connections (or contexts), numbered from 0. */
#define IN_FLIGHT_PATHS_MAX  64
#define IN_FLIGHT_GROUPS_MAX 64

/* max-in-flight=N (0: auto), once it is known how many paths there
 * are.  With auto, groups[i] (NULL: all 0) puts path i in a group
 * with a limit of its own: the plugin's several servers, whose round
 * trips may differ by nature (flow-limit.h would take a slower
 * server's trips for a queue, and its pieces, held long, would take
 * the faster one's room).  A fixed N is one limit over all.
 */
extern void in_flight_init (unsigned paths, const unsigned *groups,
                            unsigned max);

/* With max-in-flight=auto, a request smaller than this takes no place
 * under the limit.  That limit is for a fast upstream on the same
 * cores, whose cost grows with the bytes it holds (docs/design.md, "A
 * fast upstream"); a small request costs it little to hold, and its
 * round trip is mostly the scheduling of this machine's threads, which
 * the limit would take for a queue and throttle a random-I/O client
 * for.  A fixed max-in-flight=N is the user's word: it holds every
 * request.
 */
#define IN_FLIGHT_SMALL 65536

/* Before issuing a piece of a request of request_len bytes on path:
 * waits while its group's limit is reached.  Returns 1: the piece
 * holds a place, which one in_flight_release gives back when it
 * completes or could not be issued; 0: a small request under auto,
 * which needs none (and nothing to release); -1: the stop condition came true
 * while it waited (nothing to release).
 */
extern int in_flight_acquire (unsigned path, uint64_t request_len);

/* Waits for room end, with -1, once stop () returns true (it must be
 * cheap and may become true at any moment, in a signal handler too):
 * nbdkit is shutting down.
 */
extern void in_flight_stop_when (bool (*stop) (void));

/* rtt_us: how long the piece took (now_us () of clock.h), or -1 if
 * it was not timed (the plugin times only the first read or write
 * piece of each request: the others were issued behind it and would
 * count its wait as theirs).  path: as given to the acquire.
 */
extern void in_flight_release (int64_t rtt_us, unsigned path);

/* For stats=FILE, over all groups: pieces in flight now, the limit
 * now, whether it was given, the most ever in flight at once.
 */
struct in_flight_figures {
  unsigned now, limit, most;
  bool fixed;
};
extern void in_flight_figures (struct in_flight_figures *f);

#endif /* MULTICOPY_IN_FLIGHT_H */
