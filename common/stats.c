/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: stats=FILE.
 *
 * A thread rewrites FILE every second while the counters move, and
 * once more at exit.  Each write goes to a new temporary file beside
 * FILE, renamed over it, so that whoever watches it never reads half
 * a file.  The temporary is made with mkstemp (O_EXCL, a name of its
 * own), because FILE may be in a directory that others can write: no
 * name planted there is followed or clobbered, and rename replaces
 * FILE itself, never what a planted symlink at FILE points to.  The
 * format is in the man page (STATS FILE): this file writes our own
 * text, stats-prometheus.c the text format that Prometheus's
 * node_exporter reads from its textfile directory (which wants the
 * same rename).
 */

/* asprintf */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Only the helpers of nbdkit-common.h are used here; the plugin and
 * the filter both get them from the server at run time.
 */
#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "clock.h"
#include "params.h"
#include "stats.h"
#include "thread.h"

const char *const stats_op_name[STATS_NR_OPS] = {
  [ROUTE_READ] = "read", [ROUTE_WRITE] = "write", [ROUTE_ZERO] = "zero",
  [ROUTE_TRIM] = "trim", [ROUTE_CACHE] = "cache",
  [STATS_EXTENTS] = "extents", [STATS_FLUSH] = "flush",
};

static char *path, *tmp_template; /* FILE, and FILE.XXXXXX */
static bool prometheus;           /* stats-format=prometheus */
static const char *format_given;
static const struct stats_source *source;
static int64_t started_ms;
static pthread_t thread;
static bool running, stop;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;

/* A new temporary file beside FILE, open for writing: NULL on error
 * (errno set).  Its name is in tmp (of the template's size).
 */
static FILE *
open_temporary (char *tmp)
{
  FILE *fp;
  int fd;

  strcpy (tmp, tmp_template);
  fd = mkstemp (tmp);
  if (fd == -1)
    return NULL;
  /* mkstemp makes it 0600; the file is for whoever watches. */
  if (fchmod (fd, 0644) == -1 || (fp = fdopen (fd, "w")) == NULL) {
    int err = errno;
    close (fd);
    unlink (tmp);
    errno = err;
    return NULL;
  }
  return fp;
}

int
stats_config (const char *key, const char *value)
{
  struct stat st;
  char *tmp;
  FILE *fp;

  if (multicopy_param_once (key) == -1)
    return -1;
  if (strcmp (key, "stats-format") == 0) {
    format_given = value;
    if (strcmp (value, "prometheus") == 0)
      prometheus = true;
    else if (strcmp (value, "text") != 0) {
      nbdkit_error ("stats-format=%s: must be text or prometheus", value);
      return -1;
    }
    return 0;
  }
  path = nbdkit_absolute_path (value);
  if (path == NULL || asprintf (&tmp_template, "%s.XXXXXX", path) == -1) {
    nbdkit_error ("%s=%s: %m", key, value);
    return -1;
  }
  if (stat (path, &st) == 0 && S_ISDIR (st.st_mode)) {
    nbdkit_error ("%s=%s: %s is a directory: name a file in it", key, value,
                  path);
    return -1;
  }
  /* Find out now, not at exit, that it cannot be written. */
  tmp = strdup (tmp_template);
  if (tmp == NULL || (fp = open_temporary (tmp)) == NULL) {
    nbdkit_error ("%s=%s: cannot write a file beside it: %m", key, value);
    free (tmp);
    return -1;
  }
  fclose (fp);
  unlink (tmp);
  free (tmp);
  return 0;
}

int
stats_config_complete (void)
{
  if (format_given && path == NULL) {
    nbdkit_error ("stats-format=%s: give stats=FILE too", format_given);
    return -1;
  }
  return 0;
}

/* The fields of connection i, as in the file. */
static void
print_unit (FILE *fp, const struct stats_source *src, unsigned i)
{
  struct stats *s = src->get (i);
  unsigned op;

  fprintf (fp, "%s=%u", src->label, i);
  if (src->server_of)
    fprintf (fp, " server=%u", src->server_of (i));
  for (op = 0; op < STATS_NR_OPS; ++op) {
    fprintf (fp, " %s=%" PRIuFAST64, stats_op_name[op],
             atomic_load (&s->requests[op]));
    if (op != STATS_FLUSH)
      fprintf (fp, "/%" PRIuFAST64, atomic_load (&s->bytes[op]));
  }
  if (src->has_reconnects)
    fprintf (fp, " reconnects=%" PRIuFAST64, atomic_load (&s->reconnects));
  fprintf (fp, " lost-writes=%" PRIuFAST64, atomic_load (&s->lost_writes));
  if (src->has_replay)
    fprintf (fp, " replay-log=%" PRIuFAST64 "/%" PRIuFAST64
             " replays=%" PRIuFAST64 " log-flushes=%" PRIuFAST64
             " log-waits=%" PRIuFAST64 " log-grows=%" PRIuFAST64,
             atomic_load (&s->log_bytes), atomic_load (&s->log_most),
             atomic_load (&s->replays), atomic_load (&s->log_flushes),
             atomic_load (&s->log_waits), atomic_load (&s->log_grows));
}

static uint64_t
data_bytes (struct stats *s)
{
  return atomic_load (&s->bytes[ROUTE_READ]) +
    atomic_load (&s->bytes[ROUTE_WRITE]);
}

/* How evenly the stripes spread the data: max over min of the bytes
 * read and written per connection.
 */
double
stats_balance (const struct stats_source *src, uint64_t *max, unsigned *imax,
               uint64_t *min, unsigned *imin)
{
  unsigned i;

  *max = 0, *min = UINT64_MAX, *imax = *imin = 0;
  for (i = 0; i < src->nr; ++i) {
    uint64_t b = data_bytes (src->get (i));
    if (b > *max) { *max = b; *imax = i; }
    if (b < *min) { *min = b; *imin = i; }
  }
  if (*min == UINT64_MAX)
    *min = 0;
  return *max == 0 ? -1 : *min == 0 ? 0 : (double) *max / *min;
}

static void
print_balance (FILE *fp, const struct stats_source *src)
{
  uint64_t max, min;
  unsigned imax, imin;
  double ratio = stats_balance (src, &max, &imax, &min, &imin);

  fprintf (fp, "balance=");
  if (ratio == -1)
    fprintf (fp, "-");
  else if (ratio == 0)
    fprintf (fp, "inf");
  else
    fprintf (fp, "%.2f", ratio);
  fprintf (fp, " max=%" PRIu64 " %s=%u min=%" PRIu64 " %s=%u\n",
           max, src->label, imax, min, src->label, imin);
}

static void
print_in_flight (FILE *fp, const struct stats_source *src)
{
  struct in_flight_figures f;

  src->in_flight (&f);
  fprintf (fp, "in-flight=%u limit=%u %s most=%u\n",
           f.now, f.limit, f.fixed ? "fixed" : "auto", f.most);
}

static uint64_t
total_requests (const struct stats_source *src)
{
  uint64_t n = 0;
  unsigned i, op;

  for (i = 0; i < src->nr; ++i) {
    struct stats *s = src->get (i);
    for (op = 0; op < STATS_NR_OPS; ++op)
      n += atomic_load (&s->requests[op]);
    n += atomic_load (&s->reconnects) + atomic_load (&s->lost_writes) +
      atomic_load (&s->replays) + atomic_load (&s->log_flushes) +
      atomic_load (&s->log_waits) + atomic_load (&s->log_grows);
  }
  return n;
}

static void
write_file (const struct stats_source *src)
{
  char tmp[PATH_MAX + 8];
  FILE *fp = strlen (tmp_template) < sizeof tmp ? open_temporary (tmp) : NULL;
  time_t t = time (NULL);
  char when[64];
  unsigned i;

  if (fp == NULL) {
    nbdkit_debug ("stats: %s: %m", tmp_template);
    return;
  }
  if (prometheus) {
    const char *base = strrchr (path, '/');

    stats_print_prometheus (fp, src, base ? base + 1 : path,
                            (now_ms () - started_ms) / 1000.0);
    goto done;
  }
  strftime (when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime (&t));
  fprintf (fp, "# nbdkit-multicopy %s %s, %s, %.1f s after start: "
           "requests/bytes by %s\n", src->what, PACKAGE_VERSION, when,
           (now_ms () - started_ms) / 1000.0, src->label);
  for (i = 0; src->server_name && i < src->nr_servers; ++i)
    fprintf (fp, "# server=%u %s\n", i, src->server_name (i));
  for (i = 0; i < src->nr; ++i) {
    print_unit (fp, src, i);
    fputc ('\n', fp);
  }
  print_balance (fp, src);
  print_in_flight (fp, src);
 done:
  if (fclose (fp) == EOF || rename (tmp, path) == -1) {
    nbdkit_debug ("stats: %s: %m", path);
    unlink (tmp);
  }
}

static void *
writer (void *arg)
{
  uint64_t last = UINT64_MAX;

  pthread_mutex_lock (&lock);
  while (!stop) {
    struct timespec ts;
    uint64_t now = total_requests (source);

    if (now != last) {
      write_file (source);
      last = now;
    }
    ts = realtime_in_ms (STATS_INTERVAL_MS);
    pthread_cond_timedwait (&cond, &lock, &ts);
  }
  pthread_mutex_unlock (&lock);
  write_file (source);
  return NULL;
}

int
stats_start (const struct stats_source *src)
{
  started_ms = now_ms ();
  if (path == NULL)
    return 0;
  source = src;
  if (thread_start (&thread, writer, NULL, "stats") == -1)
    return -1;
  running = true;
  return 0;
}

void
stats_stop (void)
{
  if (running) {
    pthread_mutex_lock (&lock);
    stop = true;
    pthread_cond_signal (&cond);
    pthread_mutex_unlock (&lock);
    pthread_join (thread, NULL);
    running = false;
  }
  free (path);
  free (tmp_template);
  path = tmp_template = NULL;
}

void
stats_debug (const struct stats_source *src)
{
  char *line = NULL;
  size_t len = 0;
  FILE *fp;
  unsigned i;

  for (i = 0; i < src->nr; ++i) {
    fp = open_memstream (&line, &len);
    if (fp == NULL)
      return;
    print_unit (fp, src, i);
    fclose (fp);
    nbdkit_debug ("%s", line);
    free (line);
    line = NULL;
  }
  if ((fp = open_memstream (&line, &len)) != NULL) {
    print_in_flight (fp, src);
    fclose (fp);
    nbdkit_debug ("%.*s", (int) strcspn (line, "\n"), line);
    free (line);
  }
}
