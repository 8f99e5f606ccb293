/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: stats=FILE in Prometheus's text exposition
 * format (stats-format=prometheus), for node_exporter's textfile
 * collector.
 *
 * The same figures as the text file, named by Prometheus's
 * conventions: counters end in _total, sizes in _bytes.  Every series
 * carries file="BASENAME", so that several nbdkit writing files into
 * one collector directory never give the same series twice (which
 * node_exporter rejects).
 */

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "stats.h"

#define PREFIX "nbdkit_multicopy_"

static const char *const op_name[STATS_NR_OPS] = {
  [ROUTE_READ] = "read", [ROUTE_WRITE] = "write", [ROUTE_ZERO] = "zero",
  [ROUTE_TRIM] = "trim", [ROUTE_CACHE] = "cache",
  [STATS_EXTENTS] = "extents", [STATS_FLUSH] = "flush",
};

/* A label value, escaped as the format asks: \\, \" and \n. */
static void
print_value (FILE *fp, const char *s)
{
  for (; *s; ++s) {
    if (*s == '\\' || *s == '"')
      fputc ('\\', fp);
    if (*s == '\n')
      fputs ("\\n", fp);
    else
      fputc (*s, fp);
  }
}

static void
head (FILE *fp, const char *name, const char *type, const char *help)
{
  fprintf (fp, "# HELP " PREFIX "%s %s\n# TYPE " PREFIX "%s %s\n",
           name, help, name, type);
}

/* name{file="F"} */
static void
start (FILE *fp, const char *name, const char *file)
{
  fprintf (fp, PREFIX "%s{file=\"", name);
  print_value (fp, file);
  fputc ('"', fp);
}

/* name{file="F",connection="i"[,server="s"]: the plugin names the
 * server (by its number, the order of uri=) even when there is one, so
 * that a query need not change when a second is added.
 */
static void
start_unit (FILE *fp, const char *name, const char *file,
            const struct stats_source *src, unsigned i)
{
  start (fp, name, file);
  fprintf (fp, ",%s=\"%u\"", src->label, i);
  if (src->server_of)
    fprintf (fp, ",server=\"%u\"", src->server_of (i));
}

/* One series per connection of one counter or gauge. */
static void
per_unit (FILE *fp, const char *name, const char *file,
          const struct stats_source *src, size_t field)
{
  unsigned i;

  for (i = 0; i < src->nr; ++i) {
    const atomic_uint_fast64_t *v =
      (const atomic_uint_fast64_t *) ((const char *) src->get (i) + field);

    start_unit (fp, name, file, src, i);
    fprintf (fp, "} %" PRIuFAST64 "\n", atomic_load (v));
  }
}

static void
per_unit_and_op (FILE *fp, const char *name, const char *file,
                 const struct stats_source *src, bool bytes)
{
  unsigned i, op;

  for (i = 0; i < src->nr; ++i) {
    struct stats *s = src->get (i);

    for (op = 0; op < STATS_NR_OPS; ++op) {
      if (bytes && op == STATS_FLUSH)
        continue;
      start_unit (fp, name, file, src, i);
      fprintf (fp, ",op=\"%s\"} %" PRIuFAST64 "\n", op_name[op],
               atomic_load (bytes ? &s->bytes[op] : &s->requests[op]));
    }
  }
}

void
stats_print_prometheus (FILE *fp, const struct stats_source *src,
                        const char *file, double uptime_s)
{
  struct in_flight_figures f;
  uint64_t max, min;
  unsigned imax, imin;
  double ratio;

  head (fp, "info", "gauge", "What wrote this file (always 1).");
  start (fp, "info", file);
  fprintf (fp, ",front=\"%s\",version=\"%s\"} 1\n", src->what,
           PACKAGE_VERSION);
  head (fp, "uptime_seconds", "gauge", "Seconds since nbdkit started.");
  start (fp, "uptime_seconds", file);
  fprintf (fp, "} %.3f\n", uptime_s);

  head (fp, "requests_total", "counter",
        "Requests sent on each connection below, by operation.");
  per_unit_and_op (fp, "requests_total", file, src, false);
  head (fp, "bytes_total", "counter",
        "Bytes the requests on each connection below covered, by operation.");
  per_unit_and_op (fp, "bytes_total", file, src, true);
  if (src->has_reconnects) {
    head (fp, "reconnects_total", "counter",
          "Times each upstream connection was replaced.");
    per_unit (fp, "reconnects_total", file, src,
              offsetof (struct stats, reconnects));
  }
  head (fp, "lost_writes_total", "counter",
        "Losses of writes that no flush had covered, each told to clients.");
  per_unit (fp, "lost_writes_total", file, src,
            offsetof (struct stats, lost_writes));
  if (src->has_replay) {
    head (fp, "replays_total", "counter",
          "Times a connection's replay log was sent again after a reconnect.");
    per_unit (fp, "replays_total", file, src,
              offsetof (struct stats, replays));
    head (fp, "replay_log_flushes_total", "counter",
          "Flushes sent to make room in the replay log.");
    per_unit (fp, "replay_log_flushes_total", file, src,
              offsetof (struct stats, log_flushes));
    head (fp, "replay_log_waits_total", "counter",
          "Writes that waited for room in the replay log.");
    per_unit (fp, "replay_log_waits_total", file, src,
              offsetof (struct stats, log_waits));
    head (fp, "replay_log_grows_total", "counter",
          "Times a replay log doubled.");
    per_unit (fp, "replay_log_grows_total", file, src,
              offsetof (struct stats, log_grows));
    head (fp, "replay_log_bytes", "gauge",
          "Bytes the replay log holds now.");
    per_unit (fp, "replay_log_bytes", file, src,
              offsetof (struct stats, log_bytes));
    head (fp, "replay_log_most_bytes", "gauge",
          "The most bytes the replay log ever held.");
    per_unit (fp, "replay_log_most_bytes", file, src,
              offsetof (struct stats, log_most));
  }

  /* No series while it means nothing (no data yet, or one idle). */
  ratio = stats_balance (src, &max, &imax, &min, &imin);
  head (fp, "balance_ratio", "gauge",
        "Bytes read and written, the busiest connection over the idlest.");
  if (ratio > 0) {
    start (fp, "balance_ratio", file);
    fprintf (fp, "} %.3f\n", ratio);
  }

  src->in_flight (&f);
  head (fp, "in_flight", "gauge", "Pieces in flight below now.");
  start (fp, "in_flight", file);
  fprintf (fp, "} %u\n", f.now);
  head (fp, "in_flight_limit", "gauge",
        "The limit of max-in-flight now.");
  start (fp, "in_flight_limit", file);
  fprintf (fp, ",mode=\"%s\"} %u\n", f.fixed ? "fixed" : "auto", f.limit);
  head (fp, "in_flight_most", "gauge",
        "The most pieces that were ever in flight at once.");
  start (fp, "in_flight_most", file);
  fprintf (fp, "} %u\n", f.most);
}
