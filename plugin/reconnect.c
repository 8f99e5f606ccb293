/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: bringing a lost upstream connection back.
 *
 * When a handle dies (or the server closes it, or we left a server
 * that is going away) its I/O thread opens a new one, with backoff,
 * until it succeeds or the pool stops.  Meanwhile requests for its
 * stripes wait, for at most reconnect-timeout= seconds from when it
 * went down; after that they fail at once until it is back.  When
 * nbdkit is shutting down nothing reconnects and nothing waits.
 *
 * Requests that were in flight are sent again by their issuers
 * (route.c): none of them was acknowledged to a client, and reads,
 * writes, zeroes, trims and caches can all be repeated.  Writes a
 * client already saw acknowledged and no flush has covered may have
 * been dropped by the old connection's server: the replay log sends
 * them again on the new handle, and flushes them, before the handle
 * is put in place (replay.c).  Without replay (replay-buffer=0), or
 * when the upstream stays away past reconnect-timeout, every client is
 * told instead, at its next flush and its next write (losses.c).
 */

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <libnbd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "caps.h"
#include "clock.h"
#include "config.h"
#include "connect.h"
#include "kick.h"
#include "losses.h"
#include "reconnect.h"
#include "replay.h"
#include "shutdown.h"
#include "upstream.h"

/* Sleep up to ms, or less if the pool stops or nbdkit shuts down. */
static void
nap (struct upstream *u, int ms)
{
  struct pollfd pfd[2] = {
    { .fd = u->kick_fd, .events = POLLIN },
    { .fd = shutdown_fd (), .events = POLLIN },
  };

  if (poll (pfd, 2, ms) > 0 && (pfd[0].revents & POLLIN))
    io_thread_drain_kicks (u);
}

static void
set_up (struct upstream *u, bool up)
{
  pthread_mutex_lock (&u->state_lock);
  u->up = up;
  if (!up)
    u->down_since_ms = now_ms ();
  pthread_cond_broadcast (&u->up_cond);
  pthread_mutex_unlock (&u->state_lock);
}

/* Whether writes a client saw acknowledged may sit on u's handle. */
static bool
holds_unflushed (struct upstream *u)
{
  return dirty_take (&u->dirty);
}


/* Whether a new handle for connection i, to server, serves what
 * clients were told (export-caps.h).
 */
static bool
still_serves (unsigned i, unsigned server, struct nbd_handle *nbd)
{
  struct export_caps c;
  char name[600];

  config_connection_name (name, sizeof name, i, server);
  return caps_read (name, nbd, &c) == 0 &&
    export_caps_still_cover (&pool.caps, &c, pool.max_payload, name) == 0;
}

/* Put the new handle in place of the dead one. */
static void
swap_handle (struct upstream *u, struct nbd_handle *nbd)
{
  struct nbd_handle *old;
  unsigned gen;
  bool lost;

  pthread_rwlock_wrlock (&u->handle_lock);
  old = u->nbd;
  u->nbd = nbd;
  u->fd = nbd_aio_get_fd (nbd);
  atomic_store (&u->multi_conn, nbd_can_multi_conn (nbd) == 1);
  atomic_store (&u->leaving, false);
  /* A writer marking dirty after this sees the new generation and
   * reports the loss itself (route.c); one that marked before is seen
   * here.
   */
  lost = holds_unflushed (u);
  gen = atomic_fetch_add (&u->gen, 1);
  pthread_rwlock_unlock (&u->handle_lock);
  /* With replay, what the old handle held was sent again on this one. */
  if (lost && !replay_on ())
    losses_on_connection (u, gen);

  /* Nobody can reach the old handle now, and it has nothing in flight. */
  nbd_close (old);
  atomic_fetch_add_explicit (&u->stats.reconnects, 1, memory_order_relaxed);
}

static bool
stopping (struct upstream *u)
{
  return atomic_load (&u->stopping) || shutdown_requested ();
}

/* Why u went down, for the debug log.  Not an error while no client
 * request fails for it: the errors are the losses, and requests
 * failing past reconnect-timeout.  The stats file counts reconnects.
 */
static void
say_down (struct upstream *u)
{
  nbdkit_debug ("upstream connection %u %s; reconnecting (requests for its "
                "stripes wait up to reconnect-timeout=" MS_FMT ")",
                u->index,
                atomic_load (&u->leaving) ? "left its server, which is "
                "shutting down" : nbd_aio_is_dead (u->nbd) ? "died" :
                "was closed by the server",
                MS_ARGS (config.reconnect_timeout_ms));
}

/* Past reconnect-timeout, once. */
static void
say_still_down (struct upstream *u)
{
  nbdkit_error ("upstream connection %u: still down after "
                "reconnect-timeout=" MS_FMT "; requests for its "
                "stripes fail until it is back", u->index,
                MS_ARGS (config.reconnect_timeout_ms));
  /* The log is kept, and sent if the upstream comes back, but it may
   * never: clients must not count on it.
   */
  if (replay_holds (u))
    losses_on_connection (u, atomic_load (&u->gen));
}

/* One try: connect, check that the new handle still serves what
 * clients were told, send the log again, swap.  Whether u is up.
 */
static bool
try_reconnect (struct upstream *u, int64_t down, bool gave_up)
{
  struct connect_failure why[MULTICOPY_SERVERS_MAX];
  struct nbd_handle *nbd;
  unsigned server;
  int replayed;

  if (upstream_connect (&nbd, &server, &u->server, u->index, 1,
                        shutdown_fd (), why) != 1)
    return false;
  if (!still_serves (u->index, server, nbd) ||
      (replayed = replay_onto (u, nbd)) == -1) {
    nbd_close (nbd);
    return false;
  }
  if (replayed == -2)
    losses_on_connection (u, atomic_load (&u->gen));
  swap_handle (u, nbd);
  set_up (u, true);
  /* Worth the error log only if that said it was down. */
  (gave_up ? nbdkit_error : nbdkit_debug)
    ("upstream connection %u: reconnected after %" PRIi64 " ms",
     u->index, now_ms () - down);
  return true;
}

bool
upstream_reconnect (struct upstream *u)
{
  int backoff = BACKOFF_FIRST_MS;
  int64_t down, left;
  bool gave_up = false;

  set_up (u, false);
  down = u->down_since_ms;
  if (stopping (u))
    return false;
  /* Without replay, tell clients now, not at the swap: whoever
   * connects from here on is not concerned.  With replay, the log
   * holds it all, to send again on the new connection.
   */
  if (holds_unflushed (u) && !replay_on ())
    losses_on_connection (u, atomic_load (&u->gen));
  say_down (u);

  while (!stopping (u)) {
    if (!gave_up && now_ms () - down >= config.reconnect_timeout_ms) {
      say_still_down (u);
      gave_up = true;           /* waiters time out by themselves */
    }
    if (try_reconnect (u, down, gave_up))
      return true;
    /* Wake at the end of the reconnect-timeout window too, to log it
     * on time.
     */
    left = down + config.reconnect_timeout_ms - now_ms ();
    nap (u, !gave_up && left >= 0 && left < backoff ? (int) left : backoff);
    backoff = backoff_next (backoff);
  }
  return false;
}

bool
upstream_lost_since (struct upstream *u, unsigned gen)
{
  bool lost;

  if (atomic_load (&u->gen) != gen || atomic_load (&u->leaving))
    return true;
  pthread_rwlock_rdlock (&u->handle_lock);
  lost = nbd_aio_is_dead (u->nbd) || nbd_aio_is_closed (u->nbd);
  pthread_rwlock_unlock (&u->handle_lock);
  return lost;
}

bool
upstream_wait_back (struct upstream *u, unsigned gen)
{
  int64_t start = now_ms ();
  bool back = false;

  if (config.reconnect_timeout_ms == 0)
    return false;

  pthread_mutex_lock (&u->state_lock);
  while (!stopping (u)) {
    struct timespec ts;
    int64_t left, wait_ms = 100;

    /* Back means a new handle: libnbd may fail the commands of a dying
     * one before it reports the handle dead, so "not dead yet" proves
     * nothing.
     */
    if (u->up && atomic_load (&u->gen) != gen) {
      back = true;
      break;
    }
    left = (u->up ? start : u->down_since_ms) +
      config.reconnect_timeout_ms - now_ms ();
    if (left <= 0)
      break;
    if (left < wait_ms)
      wait_ms = left;
    /* Timed: the I/O thread may not have noticed the death yet, and
     * nbdkit may be shutting down.
     */
    ts = realtime_in_ms (wait_ms);
    pthread_cond_timedwait (&u->up_cond, &u->state_lock, &ts);
  }
  pthread_mutex_unlock (&u->state_lock);
  return back;
}
