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

/* A piece waiting for a place.  Places are handed over in the order
 * pieces came, each to its waiter: with one condition variable for
 * all, which waiter wakes is the scheduler's choice, and with the
 * stop poll's timeouts the same few threads won every time, starving
 * the other clients (test-in-flight, "fair").
 */
struct waiter {
  pthread_cond_t granted_cond;
  bool granted;
  struct waiter *next;
};

/* The pieces in flight to one group of paths, their limit, and the
 * queue of pieces waiting for a place.
 */
struct gate {
  struct flow_limit fl;
  unsigned in_flight;
  struct waiter *head, **tail;
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
    gates[i].in_flight = 0;
    gates[i].head = NULL;
    gates[i].tail = &gates[i].head;
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

/* Under lock: one more piece in flight at g. */
static void
take_place (struct gate *g)
{
  g->in_flight++;
  if (++in_flight > most)
    most = in_flight;
  flow_limit_issued (&g->fl, g->in_flight);
}

/* Under lock: the places free at g to the oldest waiters. */
static void
hand_over (struct gate *g)
{
  while (g->head && g->in_flight < flow_limit_get (&g->fl)) {
    struct waiter *w = g->head;

    g->head = w->next;
    if (g->head == NULL)
      g->tail = &g->head;
    take_place (g);
    w->granted = true;
    pthread_cond_signal (&w->granted_cond);
  }
}

/* Under lock: w leaves g's queue without a place. */
static void
leave_queue (struct gate *g, struct waiter *w)
{
  struct waiter **pp;

  for (pp = &g->head; *pp != w; pp = &(*pp)->next)
    ;
  *pp = w->next;
  if (*pp == NULL)
    g->tail = pp;
}

/* Under lock, queued at g: wait to be handed a place, or for the stop
 * condition (a signal handler may make it true, which cannot wake a
 * condition variable: looked at every STOP_POLL_MS).  0 or -1.
 */
static int
wait_for_place (struct gate *g, struct waiter *w)
{
  while (!w->granted) {
    struct timespec ts;

    if (stopping == NULL) {
      pthread_cond_wait (&w->granted_cond, &lock);
      continue;
    }
    if (stopping ()) {
      leave_queue (g, w);
      return -1;
    }
    ts = realtime_in_ms (STOP_POLL_MS);
    pthread_cond_timedwait (&w->granted_cond, &lock, &ts);
  }
  return 0;
}

int
in_flight_acquire (unsigned path, uint64_t request_len)
{
  struct gate *g = &gates[group_of[path % IN_FLIGHT_PATHS_MAX]];
  struct waiter w = { .granted = false, .next = NULL };
  int r;

  /* fixed does not change once I/O has begun. */
  if (request_len < IN_FLIGHT_SMALL && !g->fl.fixed)
    return 0;
  pthread_mutex_lock (&lock);
  /* Nobody overtakes a piece that waits. */
  if (g->head == NULL && g->in_flight < flow_limit_get (&g->fl)) {
    take_place (g);
    pthread_mutex_unlock (&lock);
    return 1;
  }
  pthread_cond_init (&w.granted_cond, NULL);
  *g->tail = &w;
  g->tail = &w.next;
  r = wait_for_place (g, &w);
  pthread_mutex_unlock (&lock);
  pthread_cond_destroy (&w.granted_cond);
  return r == 0 ? 1 : -1;
}

void
in_flight_release (int64_t rtt_us, unsigned path)
{
  struct gate *g = &gates[group_of[path % IN_FLIGHT_PATHS_MAX]];

  pthread_mutex_lock (&lock);
  g->in_flight--;
  in_flight--;
  if (rtt_us >= 0)
    flow_limit_sample (&g->fl, now_us (), rtt_us);
  hand_over (g);
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
