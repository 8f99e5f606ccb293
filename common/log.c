/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: warnings and notices where nbdkit's log goes.
 *
 * nbdkit does not tell a plugin its --log=, so it is read from the
 * process's own command line, the last one winning as in nbdkit.  The
 * default is nbdkit's: stderr, or syslog once nbdkit has forked into
 * the background (the process that logs is then not the one that
 * loaded us).
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

enum log_to { LOG_TO_DEFAULT, LOG_TO_STDERR, LOG_TO_SYSLOG, LOG_TO_NULL };

static enum log_to log_to = LOG_TO_DEFAULT;
static pid_t loaded_by;

static enum log_to
log_to_named (const char *name)
{
  if (strcmp (name, "stderr") == 0)
    return LOG_TO_STDERR;
  if (strcmp (name, "syslog") == 0)
    return LOG_TO_SYSLOG;
  if (strcmp (name, "null") == 0)
    return LOG_TO_NULL;
  return LOG_TO_DEFAULT;        /* nbdkit refuses others before .load */
}

void
multicopy_log_init (void)
{
  char args[65536];
  size_t len, at;
  bool value_next = false;
  FILE *fp;

  loaded_by = getpid ();
  fp = fopen ("/proc/self/cmdline", "re");
  if (fp == NULL)
    return;
  len = fread (args, 1, sizeof args - 1, fp);
  fclose (fp);
  args[len] = '\0';
  /* NUL-separated arguments: "--log=X", or "--log" then "X". */
  for (at = 0; at < len; at += strlen (args + at) + 1) {
    const char *arg = args + at;

    if (value_next)
      log_to = log_to_named (arg);
    value_next = strcmp (arg, "--log") == 0;
    if (strncmp (arg, "--log=", 6) == 0)
      log_to = log_to_named (arg + 6);
  }
}

static void
say (int priority, const char *what, const char *fs, va_list args)
{
  enum log_to to = log_to;
  char line[1024];

  if (to == LOG_TO_DEFAULT)
    to = getpid () == loaded_by ? LOG_TO_STDERR : LOG_TO_SYSLOG;
  if (to == LOG_TO_NULL)
    return;
  /* The whole line first: one write, never interleaved with another
   * thread's.
   */
  vsnprintf (line, sizeof line, fs, args);
  if (to == LOG_TO_SYSLOG)
    syslog (priority, "multicopy: %s%s", what, line);
  else
    fprintf (stderr, "nbdkit: multicopy: %s%s\n", what, line);
}

void
multicopy_warning (const char *fs, ...)
{
  va_list args;

  va_start (args, fs);
  say (LOG_WARNING, "warning: ", fs, args);
  va_end (args);
}

void
multicopy_notice (const char *fs, ...)
{
  va_list args;

  va_start (args, fs);
  say (LOG_NOTICE, "", fs, args);
  va_end (args);
}
