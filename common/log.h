/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: warnings and notices, sent where nbdkit sends its
 * own log.
 *
 * nbdkit 1.32 gives plugins and filters nbdkit_error and nbdkit_debug
 * only.  A warning is not an error, and a notice (the startup line)
 * must show without -v, so these follow nbdkit's --log= themselves:
 * stderr, syslog, or nowhere.
 */

#ifndef MULTICOPY_LOG_H
#define MULTICOPY_LOG_H

/* In .load, before nbdkit may fork: learns --log= and the pid. */
extern void multicopy_log_init (void);

/* "nbdkit: multicopy: warning: ..." */
extern void multicopy_warning (const char *fs, ...)
  __attribute__ ((format (printf, 1, 2)));

/* "nbdkit: multicopy: ...": what the operator is told without asking. */
extern void multicopy_notice (const char *fs, ...)
  __attribute__ ((format (printf, 1, 2)));

#endif /* MULTICOPY_LOG_H */
