/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: starting a thread of our own, with the error said
 * once in one way.
 */

#ifndef MULTICOPY_THREAD_H
#define MULTICOPY_THREAD_H

#include <errno.h>
#include <pthread.h>

/* pthread_create, which returns its error instead of setting errno.
 * -1 (reported as "WHAT: cannot start a thread: ...") on failure.
 * Needs nbdkit_error, from nbdkit-plugin.h or nbdkit-filter.h.
 */
static inline int
thread_start (pthread_t *thread, void *(*fn) (void *), void *arg,
              const char *what)
{
  int err = pthread_create (thread, NULL, fn, arg);

  if (err == 0)
    return 0;
  errno = err;
  nbdkit_error ("%s: cannot start a thread: %m", what);
  return -1;
}

#endif /* MULTICOPY_THREAD_H */
