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
      fprintf (fp, ",op=\"%s\"} %" PRIuFAST64 "\n", stats_op_name[op],
               atomic_load (bytes ? &s->bytes[op] : &s->requests[op]));
    }
  }
}

/* The per-connection series of one field of struct stats each, and
 * which front ends have that field.
 */
enum needs { NEEDS_NOTHING, NEEDS_RECONNECTS, NEEDS_REPLAY };
static const struct unit_series {
  const char *name, *type, *help;
  size_t field;
  enum needs needs;
} unit_series[] = {
  { "reconnects_total", "counter",
    "Times each upstream connection was replaced.",
    offsetof (struct stats, reconnects), NEEDS_RECONNECTS },
  { "lost_writes_total", "counter",
    "Losses of writes that no flush had covered, each told to clients.",
    offsetof (struct stats, lost_writes), NEEDS_NOTHING },
  { "replays_total", "counter",
    "Times a connection's replay log was sent again after a reconnect.",
    offsetof (struct stats, replays), NEEDS_REPLAY },
  { "replay_log_flushes_total", "counter",
    "Flushes sent to make room in the replay log.",
    offsetof (struct stats, log_flushes), NEEDS_REPLAY },
  { "replay_log_waits_total", "counter",
    "Writes that waited for room in the replay log.",
    offsetof (struct stats, log_waits), NEEDS_REPLAY },
  { "replay_log_grows_total", "counter",
    "Times a replay log doubled.",
    offsetof (struct stats, log_grows), NEEDS_REPLAY },
  { "replay_log_bytes", "gauge",
    "Bytes the replay log holds now.",
    offsetof (struct stats, log_bytes), NEEDS_REPLAY },
  { "replay_log_most_bytes", "gauge",
    "The most bytes the replay log ever held.",
    offsetof (struct stats, log_most), NEEDS_REPLAY },
};

void
stats_print_prometheus (FILE *fp, const struct stats_source *src,
                        const char *file, double uptime_s)
{
  struct in_flight_figures f;
  uint64_t max, min;
  unsigned imax, imin, i;
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
  for (i = 0; i < sizeof unit_series / sizeof unit_series[0]; ++i) {
    const struct unit_series *u = &unit_series[i];

    if ((u->needs == NEEDS_RECONNECTS && !src->has_reconnects) ||
        (u->needs == NEEDS_REPLAY && !src->has_replay))
      continue;
    head (fp, u->name, u->type, u->help);
    per_unit (fp, u->name, file, src, u->field);
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
