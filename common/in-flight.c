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
#define STOP_POLL_MS 100

/* The pieces in flight to one group of paths, and their limit. */
struct gate {
  struct flow_limit fl;
  pthread_cond_t room;
  unsigned in_flight, waiting;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct gate gates[IN_FLIGHT_GROUPS_MAX];
static unsigned nr_gates = 1;
static unsigned char group_of[IN_FLIGHT_PATHS_MAX];
static unsigned in_flight;      /* over all gates */
static unsigned most;           /* the most ever in flight at once */
static bool (*stopping) (void);

void
in_flight_init (unsigned paths, const unsigned *groups, unsigned max)
{
  unsigned per[IN_FLIGHT_GROUPS_MAX] = { 0 };
  unsigned i;

  pthread_mutex_lock (&lock);
  /* A fixed limit is one number for everything below. */
  nr_gates = 1;
  for (i = 0; i < paths && i < IN_FLIGHT_PATHS_MAX; ++i) {
    group_of[i] = groups && !max ? groups[i] % IN_FLIGHT_GROUPS_MAX : 0;
    per[group_of[i]]++;
    if (group_of[i] + 1u > nr_gates)
      nr_gates = group_of[i] + 1;
  }
  for (i = 0; i < nr_gates; ++i) {
    flow_limit_init (&gates[i].fl, START_PER_CONNECTION * per[i], max);
    pthread_cond_init (&gates[i].room, NULL);
    gates[i].in_flight = gates[i].waiting = 0;
  }
  pthread_mutex_unlock (&lock);
  nbdkit_debug ("pieces in flight: %s, starting at %u%s",
                max ? "fixed" : "adapting",
                flow_limit_get (&gates[0].fl),
                nr_gates > 1 ? " for the first of several servers, each "
                "with a limit of its own" : "");
}

void
in_flight_stop_when (bool (*stop) (void))
{
  pthread_mutex_lock (&lock);
  stopping = stop;
  pthread_mutex_unlock (&lock);
}

/* Wait for room at g, for at most a slice if a stop condition is set. */
static void
wait_for_room (struct gate *g)
{
  struct timespec ts;

  if (stopping == NULL) {
    pthread_cond_wait (&g->room, &lock);
    return;
  }
  ts = realtime_in_ms (STOP_POLL_MS);
  pthread_cond_timedwait (&g->room, &lock, &ts);
}

int
in_flight_acquire (unsigned path, uint64_t request_len)
{
  struct gate *g = &gates[group_of[path % IN_FLIGHT_PATHS_MAX]];

  /* fixed does not change once I/O has begun. */
  if (request_len < IN_FLIGHT_SMALL && !g->fl.fixed)
    return 0;
  pthread_mutex_lock (&lock);
  while (g->in_flight >= flow_limit_get (&g->fl)) {
    if (stopping && stopping ()) {
      pthread_mutex_unlock (&lock);
      return -1;
    }
    g->waiting++;
    wait_for_room (g);
    g->waiting--;
  }
  g->in_flight++;
  if (++in_flight > most)
    most = in_flight;
  flow_limit_issued (&g->fl, g->in_flight);
  pthread_mutex_unlock (&lock);
  return 1;
}

void
in_flight_release (int64_t rtt_us, unsigned path)
{
  struct gate *g = &gates[group_of[path % IN_FLIGHT_PATHS_MAX]];
  unsigned before;

  pthread_mutex_lock (&lock);
  g->in_flight--;
  in_flight--;
  before = flow_limit_get (&g->fl);
  if (rtt_us >= 0 && flow_limit_sample (&g->fl, now_us (), rtt_us) &&
      flow_limit_get (&g->fl) > before + 1)
    /* Room for more than the one this release made. */
    pthread_cond_broadcast (&g->room);
  else if (g->waiting && g->in_flight < flow_limit_get (&g->fl))
    /* One, not all: a herd of woken workers costs more CPU than the
     * limit saves.
     */
    pthread_cond_signal (&g->room);
  pthread_mutex_unlock (&lock);
}

void
in_flight_figures (struct in_flight_figures *f)
{
  unsigned i;

  pthread_mutex_lock (&lock);
  f->now = in_flight;
  f->limit = 0;
  for (i = 0; i < nr_gates; ++i)
    f->limit += flow_limit_get (&gates[i].fl);
  f->fixed = gates[0].fl.fixed;
  f->most = most;
  pthread_mutex_unlock (&lock);
}
