/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: the one clock for timeouts and deadlines. */

#ifndef MULTICOPY_CLOCK_H
#define MULTICOPY_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds on the monotonic clock. */
static inline int64_t
now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Microseconds on the same clock: round trips (in-flight.h). */
static inline int64_t
now_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The earlier of two times, -1 meaning none. */
static inline int64_t
earliest (int64_t a, int64_t b)
{
  return a == -1 ? b : b == -1 ? a : a < b ? a : b;
}

/* ms from now on the realtime clock, the one that
 * pthread_cond_timedwait and sem_timedwait take.
 */
static inline struct timespec
realtime_in_ms (int64_t ms)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += ms % 1000 * 1000000;
  if (ts.tv_nsec >= 1000000000) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000;
  }
  return ts;
}

/* A duration in ms as the messages print it: "%u.%03us". */
#define MS_FMT "%u.%03us"
#define MS_ARGS(ms) (unsigned) ((ms) / 1000), (unsigned) ((ms) % 1000)

/* A round trip in µs as the messages print it, in ms: "%u.%03ums". */
#define US_FMT "%u.%03ums"
#define US_ARGS(us) (unsigned) ((us) / 1000), (unsigned) ((us) % 1000)

#endif /* MULTICOPY_CLOCK_H */
