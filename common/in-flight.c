/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: the in-flight gate (in-flight.h). */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* Only the helpers of nbdkit-common.h are used here; the plugin and
 * the filter both get them from the server at run time.
 */
#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "clock.h"
#include "flow-limit.h"
#include "in-flight.h"

/* The limit starts this many times the connections, above what usual
 * clients keep in flight, so that a copy does not start throttled.
 */
#define START_PER_CONNECTION 4

/* How often a waiter looks at the stop condition: it may become true
 * in a signal handler, which cannot wake a condition variable.
 */
#define STOP_POLL_NS 100000000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t room = PTHREAD_COND_INITIALIZER;
static struct flow_limit fl;
static unsigned in_flight, waiting;
static unsigned most;           /* the most ever in flight at once */
static bool (*stopping) (void);

void
in_flight_init (unsigned connections, unsigned max)
{
  pthread_mutex_lock (&lock);
  flow_limit_init (&fl, START_PER_CONNECTION * connections, max);
  pthread_mutex_unlock (&lock);
  nbdkit_debug ("pieces in flight: %s, starting at %u",
                max ? "fixed" : "adapting", flow_limit_get (&fl));
}

void
in_flight_stop_when (bool (*stop) (void))
{
  pthread_mutex_lock (&lock);
  stopping = stop;
  pthread_mutex_unlock (&lock);
}

/* Wait for room, for at most a slice if a stop condition is set. */
static void
wait_for_room (void)
{
  struct timespec ts;

  if (stopping == NULL) {
    pthread_cond_wait (&room, &lock);
    return;
  }
  clock_gettime (CLOCK_REALTIME, &ts);
  ts.tv_nsec += STOP_POLL_NS;
  if (ts.tv_nsec >= 1000000000) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000;
  }
  pthread_cond_timedwait (&room, &lock, &ts);
}

int
in_flight_acquire (void)
{
  pthread_mutex_lock (&lock);
  while (in_flight >= flow_limit_get (&fl)) {
    if (stopping && stopping ()) {
      pthread_mutex_unlock (&lock);
      return -1;
    }
    waiting++;
    wait_for_room ();
    waiting--;
  }
  in_flight++;
  if (in_flight > most)
    most = in_flight;
  flow_limit_issued (&fl, in_flight);
  pthread_mutex_unlock (&lock);
  return 0;
}

void
in_flight_release (int64_t rtt_us)
{
  unsigned before;

  pthread_mutex_lock (&lock);
  in_flight--;
  before = flow_limit_get (&fl);
  if (rtt_us >= 0 && flow_limit_sample (&fl, now_us (), rtt_us) &&
      flow_limit_get (&fl) > before + 1)
    /* Room for more than the one this release made. */
    pthread_cond_broadcast (&room);
  else if (waiting && in_flight < flow_limit_get (&fl))
    /* One, not all: a herd of woken workers costs more CPU than the
     * limit saves.
     */
    pthread_cond_signal (&room);
  pthread_mutex_unlock (&lock);
}

void
in_flight_print (FILE *fp)
{
  unsigned now, limit, top;
  bool fixed;

  pthread_mutex_lock (&lock);
  now = in_flight;
  limit = flow_limit_get (&fl);
  fixed = fl.fixed;
  top = most;
  pthread_mutex_unlock (&lock);
  fprintf (fp, "in-flight=%u limit=%u %s most=%u\n",
           now, limit, fixed ? "fixed" : "auto", top);
}
