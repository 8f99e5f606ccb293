/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: what each upstream connection (plugin) or context
 * (filter) carried, and stats=FILE, which shows it while a copy runs.
 *
 * nbdkit's stats filter counts what clients ask for; this counts what
 * each connection below carried, to see how evenly the stripes spread
 * the work, and what was lost or reconnected where.
 */

#ifndef MULTICOPY_STATS_H
#define MULTICOPY_STATS_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "in-flight.h"
#include "route-op.h"

/* The routed operations (route-op.h), then two more. */
enum stats_op {
  STATS_EXTENTS = ROUTE_CACHE + 1,
  STATS_FLUSH,
  STATS_NR_OPS
};

/* Their names, in both formats of stats=FILE. */
extern const char *const stats_op_name[STATS_NR_OPS];

struct stats {
  atomic_uint_fast64_t requests[STATS_NR_OPS];
  atomic_uint_fast64_t bytes[STATS_NR_OPS];
  atomic_uint_fast64_t reconnects;
  atomic_uint_fast64_t lost_writes;
  /* The replay log (the plugin's): sent again after a reconnect,
   * internal flushes that made room, writers that waited for room,
   * times it doubled, and its size in bytes now and at most.
   */
  atomic_uint_fast64_t replays;
  atomic_uint_fast64_t log_flushes;
  atomic_uint_fast64_t log_waits;
  atomic_uint_fast64_t log_grows;
  atomic_uint_fast64_t log_bytes;
  atomic_uint_fast64_t log_most;
};

/* On the data path: relaxed, no lock. */
static inline void
stats_count (struct stats *s, unsigned op, uint64_t bytes)
{
  atomic_fetch_add_explicit (&s->requests[op], 1, memory_order_relaxed);
  atomic_fetch_add_explicit (&s->bytes[op], bytes, memory_order_relaxed);
}

/* Where the counters are: nr of them, each under a label ("connection",
 * "context"); has_reconnects says whether that field means anything.
 */
struct stats_source {
  const char *what;             /* "plugin" or "filter" */
  const char *label;
  unsigned nr;
  struct stats *(*get) (unsigned i);
  int has_reconnects;
  int has_replay;               /* the replay log's fields mean anything */
  /* Where each one goes, if to one of several servers (else NULL). */
  unsigned (*server_of) (unsigned i);
  const char *(*server_name) (unsigned s);
  unsigned nr_servers;
  /* The in-flight gate's figures (in-flight.h). */
  void (*in_flight) (struct in_flight_figures *f);
};

/* .config of stats=FILE and stats-format=text|prometheus: 0, or -1
 * with an error naming the key.
 */
extern int stats_config (const char *key, const char *value);

/* .config_complete: -1 (reported) if stats-format= came without
 * stats=.
 */
extern int stats_config_complete (void);

/* The file in Prometheus's text format (stats-prometheus.c). */
extern void stats_print_prometheus (FILE *fp, const struct stats_source *src,
                                    const char *file, double uptime_s);

/* The balance of the data over the connections: max and min bytes read
 * and written, and which ones; -1 if nothing moved yet, 0 if one
 * carried nothing.
 */
extern double stats_balance (const struct stats_source *src,
                             uint64_t *max, unsigned *imax,
                             uint64_t *min, unsigned *imin);

/* .after_fork: if stats= was given, write FILE every STATS_INTERVAL_MS
 * while the counters move.  -1 on error (reported).
 */
#define STATS_INTERVAL_MS 1000
extern int stats_start (const struct stats_source *src);

/* .cleanup, while the counters still exist: the last write. */
extern void stats_stop (void);

/* One line for the debug log, the same fields as in the file. */
extern void stats_debug (const struct stats_source *src);

#endif /* MULTICOPY_STATS_H */
