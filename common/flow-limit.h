/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: how many pieces the upstream (or the plugin below
 * the filter) should have in flight, learnt from its round trips.
 *
 * More pieces in flight hide latency only while the upstream serves
 * them side by side.  Past that they wait in its queues and gain
 * nothing, and a fast server on the same few cores as its clients
 * pays more CPU per request the more it holds (docs/design.md, "A
 * fast upstream").  So the limit follows the round trips, the way TCP
 * Vegas follows a path's: the shortest trip seen lately is a piece
 * that waited behind nothing (base); the shortest of each round of
 * samples says how many pieces the round found queued, limit x (1 -
 * base / shortest).  Each round moves the limit halfway to the size
 * that would leave FLOW_QUEUED pieces queued.  A round's shortest trip
 * is that of its luckiest piece, so the limit shrinks only when every
 * piece of the round waited: when all the connections were busy, not
 * when some one of them was.
 *
 * Pure arithmetic, no lock, no clock of its own: in-flight.c calls it
 * under its lock, and tests/test-flow-limit.c feeds it made-up trips.
 */

#ifndef MULTICOPY_FLOW_LIMIT_H
#define MULTICOPY_FLOW_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

/* Pieces a round may find queued before the limit shrinks. */
#define FLOW_QUEUED 4
/* A round whose shortest trip is within 1/FLOW_NO_QUEUE_FRACTION of
 * the base found no queue at all.
 */
#define FLOW_NO_QUEUE_FRACTION 20
/* Never fewer in flight than this. */
#define FLOW_MIN 4
/* Nor more: far above what nbdkit's worker threads can issue. */
#define FLOW_MAX 65536
/* The base is the shortest trip of this window or the one before, so
 * that an upstream that became slower is believed within two windows.
 */
#define FLOW_BASE_WINDOW_US 2000000

struct flow_limit {
  double limit;
  bool fixed;                   /* max-in-flight=N: never moves */
  int64_t base_us, prev_base_us; /* -1: none seen in that window */
  int64_t window_end_us;
  int64_t round_min_us;         /* -1: no sample yet in this round */
  unsigned round_samples;
  unsigned round_peak;          /* most pieces in flight this round */
};

/* max 0: adapt, starting at start; else a fixed limit of max. */
extern void flow_limit_init (struct flow_limit *fl, unsigned start,
                             unsigned max);

/* The current limit, at least 1. */
static inline unsigned
flow_limit_get (const struct flow_limit *fl)
{
  return (unsigned) fl->limit;
}

/* A piece was issued, and in_flight are now out. */
static inline void
flow_limit_issued (struct flow_limit *fl, unsigned in_flight)
{
  if (in_flight > fl->round_peak)
    fl->round_peak = in_flight;
}

/* A timed piece came back after rtt_us, at now_us.  Returns true if
 * that ended a round and the limit may have moved.
 */
extern bool flow_limit_sample (struct flow_limit *fl, int64_t now_us,
                               int64_t rtt_us);

#endif /* MULTICOPY_FLOW_LIMIT_H */
