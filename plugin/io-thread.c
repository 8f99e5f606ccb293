/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: one I/O thread per upstream connection.
 *
 * nbdkit's worker threads issue commands themselves (nbd_aio_* sends
 * what the socket takes at once).  This thread does the rest: it polls
 * libnbd's socket, reads replies (which runs the completion callbacks
 * that wake the waiting workers) and finishes sends that did not fit.
 * It polls its own loop rather than nbd_poll, which would hold the
 * handle's lock while asleep and stall every issuer.
 *
 * It also owns the handle's life.  It replaces a dead one
 * (reconnect.c).  When the server answers NBD_ESHUTDOWN it is going
 * away and waits for its clients to leave: the NBD protocol says a
 * client must then disconnect (NBD_CMD_DISC), and this thread does,
 * then reconnects.  An idle connection hears of that only when it
 * sends something, so the thread probes it every few seconds with a
 * small read of its own stripe; when one connection hears it, the
 * others probe at once.  At exit it sends the disconnect.  Every wait
 * on the server has a deadline, after which the connection is cut.
 */

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libnbd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "aio-events.h"
#include "clock.h"
#include "completion.h"
#include "config.h"
#include "io-thread.h"
#include "kick.h"
#include "reconnect.h"
#include "reply-reader.h"
#include "shutdown.h"
#include "stats.h"
#include "thread.h"
#include "upstream.h"

static void
cut (struct upstream *u, bool only_if_busy, const char *why)
{
  /* The read lock keeps the handle, and so the socket, from being
   * swapped meanwhile.
   */
  pthread_rwlock_rdlock (&u->handle_lock);
  if ((!only_if_busy || nbd_aio_in_flight (u->nbd) > 0) &&
      !nbd_aio_is_dead (u->nbd) && !nbd_aio_is_closed (u->nbd)) {
    nbdkit_error ("upstream connection %u: %s: cutting it", u->index, why);
    if (shutdown (u->fd, SHUT_RDWR) == -1)
      nbdkit_debug ("upstream connection %u: shutdown: %m", u->index);
  }
  pthread_rwlock_unlock (&u->handle_lock);
}

void
io_thread_cut (struct upstream *u, const char *why)
{
  cut (u, false, why);
}

void
io_thread_cut_if_busy (struct upstream *u, const char *why)
{
  cut (u, true, why);
}

/* The server said it is going away: stop issuing on this handle, and
 * tell the other connections to probe their servers now.
 */
static void
goodbye (struct upstream *u)
{
  unsigned i;

  if (atomic_exchange (&u->leaving, true))
    return;
  nbdkit_debug ("upstream connection %u: the server is shutting down "
                "(NBD_ESHUTDOWN): disconnecting, to reconnect", u->index);
  for (i = 0; i < pool.nr; ++i) {
    if (&pool.conn[i] != u) {
      atomic_store (&pool.conn[i].probe_now, true);
      io_thread_kick (&pool.conn[i]);
    }
  }
}

static int
probe_done (void *vp, int *error)
{
  struct upstream *u = vp;

  if (*error == ESHUTDOWN)
    atomic_store (&u->heard_goodbye, true);
  atomic_store (&u->probing, false);
  return 1;
}

/* A small read of this connection's own stripe, so that the upstream
 * still sees each byte on one connection only.
 */
static void
probe (struct upstream *u)
{
  nbd_completion_callback cb = { .callback = probe_done, .user_data = u };

  if (pool.probe_len == 0)
    return;
  atomic_store (&u->probing, true);
  if (nbd_aio_pread (u->nbd, u->probe_buf, pool.probe_len, u->probe_offset,
                     cb, 0) == -1) {
    atomic_store (&u->probing, false);
    nbdkit_debug ("upstream connection %u: probe: %s",
                  u->index, nbd_get_error ());
  }
}

static int
exit_flush_done (void *vp, int *error)
{
  struct upstream *u = vp;

  atomic_store (&u->exit_flush_err, *error);
  dirty_flush_end (&u->dirty, u->exit_flush_ticket);
  return 1;
}

/* The drain deadline found requests still in flight here.  Cutting
 * now would lose what clients saw acknowledged and no flush covered:
 * flush first (the flush at exit sees how it went), and from now on
 * acknowledge no write that returns through this connection.  false
 * if there was nothing to flush.
 */
static bool
flush_before_cut (struct upstream *u)
{
  nbd_completion_callback cb = { .callback = exit_flush_done, .user_data = u };

  if (!pool.caps.can_flush ||
      dirty_flush_begin (&u->dirty, false, &u->exit_flush_ticket) !=
      DIRTY_SEND)
    return false;
  atomic_store (&u->exit_flush_sent, true);
  pthread_rwlock_rdlock (&u->handle_lock);
  if (nbd_aio_flush (u->nbd, cb, 0) == -1) {
    atomic_store (&u->exit_flush_err, EIO);
    dirty_flush_end (&u->dirty, u->exit_flush_ticket);
  }
  else
    stats_count (&u->stats, STATS_FLUSH, 0);
  pthread_rwlock_unlock (&u->handle_lock);
  nbdkit_debug ("upstream connection %u: requests still in flight at the "
                "drain deadline: flushing it before it is cut", u->index);
  return true;
}

/* At the drain deadline (shutdown.h) and, after a flush_before_cut,
 * shutdown-timeout later: what to do with a connection that still has
 * commands in flight.  Returns the next deadline, or -1.
 */
static int64_t
drain_deadline_passed (struct upstream *u, bool *flushed, int64_t now)
{
  if (nbd_aio_in_flight (u->nbd) > 0 && !*flushed && flush_before_cut (u)) {
    *flushed = true;
    return now + config.shutdown_timeout_ms;
  }
  io_thread_cut_if_busy (u, *flushed ?
                         "still busy shutdown-timeout after its flush at the "
                         "drain deadline" :
                         "still no reply shutdown-timeout after nbdkit began "
                         "to shut down");
  return -1;
}

/* How far a connection is in leaving: at exit, or when its server
 * goes away.
 */
struct leaving {
  bool disconnecting;           /* NBD_CMD_DISC sent */
  int64_t drain_by;             /* commands in flight, after ESHUTDOWN */
  int64_t closed_by;            /* the server, after our NBD_CMD_DISC */
};

/* Leave at exit (pool_close has flushed), or when the server going
 * away has answered what was in flight (or drain_by has passed).
 */
static void
leave_when_due (struct upstream *u, struct leaving *lv, bool leaving,
                int64_t now)
{
  if (!lv->disconnecting && (atomic_load (&u->stopping) || leaving)) {
    /* The write lock waits out any issuer that saw leaving unset:
     * its command is in flight now, and no other can follow.
     */
    bool failed = false;

    pthread_rwlock_wrlock (&u->handle_lock);
    if (atomic_load (&u->stopping) || nbd_aio_in_flight (u->nbd) == 0 ||
        (lv->drain_by != -1 && now >= lv->drain_by)) {
      lv->disconnecting = true;
      lv->closed_by = now + DISCONNECT_TIMEOUT_MS;
      if (nbd_aio_disconnect (u->nbd, 0) == -1) {
        nbdkit_debug ("upstream connection %u: disconnect: %s",
                      u->index, nbd_get_error ());
        failed = true;
      }
    }
    else if (lv->drain_by == -1)
      lv->drain_by = now + DRAIN_TIMEOUT_MS;
    pthread_rwlock_unlock (&u->handle_lock);
    if (failed)
      io_thread_cut (u, "cannot send the disconnect");
  }
  if (lv->closed_by != -1 && now >= lv->closed_by) {
    io_thread_cut (u, "the server did not close the connection after "
                   "NBD_CMD_DISC");
    lv->closed_by = -1;
  }
}

/* Drive one handle until it dies or closes. */
static void
run_connection (struct upstream *u)
{
  struct pollfd fds[3];
  int64_t next_probe = now_ms () + PROBE_INTERVAL_MS;
  struct leaving lv = { .drain_by = -1, .closed_by = -1 };
  int64_t cut_by = shutdown_drain_deadline (); /* when nbdkit is exiting */
  bool flushed_to_cut = false;

  fds[0].fd = u->fd;
  fds[1].fd = u->kick_fd;
  fds[1].events = POLLIN;
  /* Until nbdkit shuts down: it stays readable after. */
  fds[2].fd = cut_by == -1 ? shutdown_fd () : -1;
  fds[2].events = POLLIN;

  while (!nbd_aio_is_dead (u->nbd) && !nbd_aio_is_closed (u->nbd)) {
    bool leaving = atomic_load (&u->leaving);
    int64_t now = now_ms (), wake;

    leave_when_due (u, &lv, leaving, now);
    /* Once .cleanup runs, the flush at exit bounds itself. */
    if (cut_by != -1 && shutdown_cleaning ())
      cut_by = -1;
    if (cut_by != -1 && now >= cut_by)
      cut_by = drain_deadline_passed (u, &flushed_to_cut, now);

    if (!lv.disconnecting && !leaving &&
        (atomic_exchange (&u->probe_now, false) || now >= next_probe)) {
      if (!atomic_load (&u->probing) && nbd_aio_in_flight (u->nbd) == 0)
        probe (u);
      next_probe = now + PROBE_INTERVAL_MS;
    }

    wake = earliest (earliest (lv.disconnecting ? -1 : next_probe, cut_by),
                     earliest (lv.disconnecting ? -1 : lv.drain_by,
                               lv.closed_by));
    /* Nothing wanted: a hangup must not spin the loop.  The reader
     * reads the replies of a steady connection; any other state is
     * this thread's to drive.
     */
    fds[0].events = aio_poll_events (u->nbd);
    if (reply_reader_hand (u, !lv.disconnecting && !leaving && cut_by == -1 &&
                           !atomic_load (&u->stopping)))
      fds[0].events &= ~POLLIN;
    fds[0].fd = fds[0].events ? u->fd : -1;
    if (poll (fds, 3, wake == -1 ? -1 : wake > now ? wake - now : 0) == -1) {
      if (errno == EINTR)
        continue;
      nbdkit_error ("upstream connection %u: poll: %m", u->index);
      io_thread_cut (u, "cannot poll it");
      continue;
    }
    if (fds[1].revents & POLLIN)
      io_thread_drain_kicks (u);
    if (fds[2].revents & POLLIN) {
      fds[2].fd = -1;
      cut_by = shutdown_drain_deadline ();
    }
    if (aio_notify (u->nbd, fds[0].revents) == -1)
      nbdkit_debug ("upstream connection %u: %s", u->index, nbd_get_error ());
    /* Replies of this connection ran their callbacks on this thread. */
    if (completion_heard_goodbye () ||
        atomic_exchange (&u->heard_goodbye, false))
      goodbye (u);
  }
  /* The handle is about to be replaced or closed. */
  reply_reader_hand (u, false);
}

/* nbdkit is shutting down: no reconnect, just wait to be stopped. */
static void
wait_for_stop (struct upstream *u)
{
  struct pollfd pfd = { .fd = u->kick_fd, .events = POLLIN };

  while (!atomic_load (&u->stopping)) {
    if (poll (&pfd, 1, -1) == 1)
      io_thread_drain_kicks (u);
  }
}

static void *
io_thread (void *vp)
{
  struct upstream *u = vp;

  /* When a handle dies libnbd fails every command in flight on it
   * (their issuers then wait for the replacement and send them again)
   * and refuses new ones at once.
   */
  for (;;) {
    run_connection (u);
    if (atomic_load (&u->stopping))
      return NULL;
    if (!upstream_reconnect (u)) {
      wait_for_stop (u);
      return NULL;
    }
  }
}

int
io_thread_start (struct upstream *u)
{
  char what[64];

  snprintf (what, sizeof what, "upstream connection %u", u->index);
  if (thread_start (&u->io_thread, io_thread, u, what) == -1)
    return -1;
  u->io_thread_started = true;
  return 0;
}

void
io_thread_stop (struct upstream *u)
{
  if (!u->io_thread_started)
    return;
  io_thread_kick (u);
  pthread_join (u->io_thread, NULL);
  u->io_thread_started = false;
}
