/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: the replay logs of the upstream
 * connections, and sending one again on a new connection.
 *
 * A write, zero or trim reserves its entry before it is issued, in
 * issue order; its completion copies the data in (the client's buffer
 * is still there: the issuer waits for every piece) and stamps it
 * done.  So by the time the I/O thread finds its handle dead, every
 * piece that handle acknowledged is in the log: libnbd ran the
 * completions of all its commands before it reported the handle dead.
 * A flush of the connection frees what completed before it was sent.
 *
 * When a log is half full, an internal flush of its connection makes
 * room; a writer that finds no room while that flush is out doubles
 * the ring, up to the connection's share of replay-buffer=, and waits
 * only at the share.  So a log starts at one of the largest pieces and
 * grows only as far as the upstream's flushes lag: on a machine where
 * the first touch of memory is dear (a VM here: 0.24 ms a MiB mapped
 * in one call, 0.46 a fault at a time, while a copy of a MiB already
 * touched takes 0.09), a fresh nbdkit touches little of it.
 * qemu-img convert flushes only at its very end, so these flushes are
 * what bounds memory for it.  When the server advertises multi-conn, a
 * flush on one of its connections covers what all of them had
 * completed before it was sent: one internal flush then frees the logs
 * of all its connections that have none out, not 16 flushes one each.
 *
 * The replay runs on the I/O thread, on the new handle before it is
 * put in place: until it is done and flushed, requests for the
 * connection's stripes still meet the dead handle, and wait for the
 * reconnect as before, reads too.  Entries go out in order, several at
 * once, but one that overlaps an entry still out waits for it.
 */

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libnbd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "aio-events.h"
#include "clock.h"
#include "config.h"
#include "kick.h"
#include "losses.h"
#include "replay.h"
#include "shutdown.h"
#include "stats.h"
#include "upstream.h"

/* A writer waiting for room looks at the shutdown this often. */
#define ROOM_WAIT_MS 100
/* A full log waits this long for its flush before it grows: a flush
 * that answers at once costs less than fresh memory (replay.c's
 * comment at the top).
 */
#define GROW_AFTER_MS 2
/* Entries of a replay out at once. */
#define REPLAY_WINDOW 16

static bool on;

bool
replay_on (void)
{
  return on;
}

uint64_t
replay_share_min (uint64_t largest_piece)
{
  return 2 * replay_entry_size (largest_piece);
}

void
replay_init (struct upstream *u, uint64_t start, uint64_t share)
{
  pthread_mutex_init (&u->log_lock, NULL);
  pthread_cond_init (&u->log_room, NULL);
  u->log_flush_out = false;
  u->log_walking = false;
  u->log_flush_others = NULL;
  u->log_flush_nr_others = 0;
  u->log = (struct replay_log) { .size = start, .capacity = share };
}

/* After nbdkit's fork, so that the ring is not the parent's. */
int
replay_alloc (struct upstream *u)
{
  uint64_t start = u->log.size, share = u->log.capacity;

  if (share == 0)
    return 0;
  u->log_flush_others = calloc (pool.nr, sizeof *u->log_flush_others);
  if (u->log_flush_others == NULL) {
    nbdkit_error ("calloc: %m");
    return -1;
  }
  if (replay_log_init (&u->log, start, share) == -1) {
    nbdkit_error ("replay-buffer: cannot map %" PRIu64 " bytes for "
                  "upstream connection %u: %m", share, u->index);
    return -1;
  }
  on = true;
  return 0;
}

void
replay_free (struct upstream *u)
{
  replay_log_free (&u->log);
  free (u->log_flush_others);
  u->log_flush_others = NULL;
  pthread_mutex_destroy (&u->log_lock);
  pthread_cond_destroy (&u->log_room);
}

/* Under log_lock: what the stats show of the log. */
static void
log_changed (struct upstream *u)
{
  atomic_store_explicit (&u->stats.log_bytes, u->log.used,
                         memory_order_relaxed);
  atomic_store_explicit (&u->stats.log_most, u->log.most,
                         memory_order_relaxed);
}

/* The internal flush that covered v's log up to its mark is done (ok:
 * it succeeded).  A log whose connection was replaced meanwhile keeps
 * its entries: the replay's own flush frees them.
 */
static void
log_flush_over (struct upstream *v, bool ok)
{
  pthread_mutex_lock (&v->log_lock);
  if (ok && !v->log_walking && atomic_load (&v->gen) == v->log_flush_gen)
    replay_log_covered (&v->log, v->log_flush_mark);
  v->log_flush_out = false;
  log_changed (v);
  pthread_cond_broadcast (&v->log_room);
  pthread_mutex_unlock (&v->log_lock);
}

/* The others first: u's writers may start the next flush as soon as
 * u's flag drops, and it refills u's list.
 */
static void
log_flushes_over (struct upstream *u, bool ok)
{
  unsigned i;

  for (i = 0; i < u->log_flush_nr_others; ++i)
    log_flush_over (&pool.conn[u->log_flush_others[i]], ok);
  log_flush_over (u, ok);
}

static int
internal_flush_done (void *vp, int *error)
{
  struct upstream *u = vp;

  log_flushes_over (u, *error == 0);
  /* A failed one on a lost connection is the replay's to mend; from a
   * server that answered, the log still has it all: the next flush
   * tries again.
   */
  if (*error)
    nbdkit_debug ("upstream connection %u: internal flush: %s",
                  u->index, strerror (*error));
  return 1;
}

/* Under u's log_lock: an internal flush about to be sent covers u's
 * log up to what has completed by now.
 */
static void
cover_from_now (struct upstream *u)
{
  u->log_flush_out = true;
  u->log_flush_mark = replay_log_mark (&u->log);
  u->log_flush_gen = atomic_load (&u->gen);
}

/* Under log_lock: start an internal flush of u if its log is half
 * full and none is out.  Returns whether the caller must send it
 * (after dropping the lock: sending takes handle_lock).
 */
static bool
want_internal_flush (struct upstream *u)
{
  if (u->log_flush_out || u->log.used < u->log.size / 2)
    return false;
  cover_from_now (u);
  return true;
}

/* Before u's internal flush is sent (u's log_flush_out set, no lock
 * held): with a multi-conn server, the logs of its other connections
 * that have no flush out are covered by it too, up to what they had
 * completed by now.
 */
static void
gather_other_logs (struct upstream *u)
{
  unsigned i;

  u->log_flush_nr_others = 0;
  if (!atomic_load (&u->multi_conn))
    return;
  for (i = 0; i < pool.nr; ++i) {
    struct upstream *v = &pool.conn[i];

    if (v == u || v->server != u->server || !atomic_load (&v->multi_conn))
      continue;
    pthread_mutex_lock (&v->log_lock);
    if (!v->log_flush_out && v->log.used > 0) {
      cover_from_now (v);
      u->log_flush_others[u->log_flush_nr_others++] = i;
    }
    pthread_mutex_unlock (&v->log_lock);
  }
}

static void
send_internal_flush (struct upstream *u)
{
  nbd_completion_callback cb = {
    .callback = internal_flush_done, .user_data = u,
  };
  int64_t r;

  gather_other_logs (u);
  pthread_rwlock_rdlock (&u->handle_lock);
  r = nbd_aio_flush (u->nbd, cb, 0);
  if (r != -1)
    upstream_issued (u, u->nbd);
  pthread_rwlock_unlock (&u->handle_lock);
  if (r == -1)
    /* The connection is down: the replay after it will free the log. */
    log_flushes_over (u, false);
  else
    atomic_fetch_add_explicit (&u->stats.log_flushes, 1,
                               memory_order_relaxed);
}

/* Whether a writer waiting for room should give up: u has been down
 * for longer than requests wait for it.
 */
static bool
down_too_long (struct upstream *u)
{
  bool r;

  pthread_mutex_lock (&u->state_lock);
  r = !u->up && now_ms () - u->down_since_ms >= config.reconnect_timeout_ms;
  pthread_mutex_unlock (&u->state_lock);
  return r;
}

/* A writer waiting for room in a log: what it did so far. */
struct room_wait {
  bool waited;                  /* counted in the stats once */
  bool waited_short;            /* for a flush that was out */
};

/* Under log_lock, which it may drop meanwhile: one step towards room
 * in u's log.  0 to try again, or the errno to give up with.
 */
static int
make_room (struct upstream *u, struct room_wait *w)
{
  struct timespec ts;

  if (shutdown_requested ())
    return ESHUTDOWN;
  if (down_too_long (u))
    return EIO;
  /* Full while a flush is out, and still after a short wait for it:
   * the upstream flushes slower than this connection writes.  A
   * bigger ring, up to the share.
   */
  if (u->log_flush_out && w->waited_short && replay_log_grow (&u->log)) {
    atomic_fetch_add_explicit (&u->stats.log_grows, 1, memory_order_relaxed);
    return 0;
  }
  /* Full: only a flush of this connection makes room. */
  if (!u->log_flush_out) {
    cover_from_now (u);
    pthread_mutex_unlock (&u->log_lock);
    send_internal_flush (u);
    pthread_mutex_lock (&u->log_lock);
    return 0;
  }
  if (!w->waited)
    atomic_fetch_add_explicit (&u->stats.log_waits, 1, memory_order_relaxed);
  w->waited = true;
  ts = realtime_in_ms (w->waited_short ? ROOM_WAIT_MS : GROW_AFTER_MS);
  w->waited_short = true;
  pthread_cond_timedwait (&u->log_room, &u->log_lock, &ts);
  return 0;
}

int
replay_reserve (struct upstream *u, enum route_op op,
                const struct stripe_piece *p, uint32_t lflags,
                const void *src, struct replay_entry **ep)
{
  size_t len = op == ROUTE_WRITE ? p->count : 0;
  struct room_wait w = { .waited = false };
  struct replay_entry *e;
  bool flush;
  int err = 0;

  *ep = NULL;
  if (!on)
    return 0;
  pthread_mutex_lock (&u->log_lock);
  while ((e = replay_log_reserve (&u->log, op, p->offset, p->count,
                                  lflags, len)) == NULL &&
         (err = make_room (u, &w)) == 0)
    ;
  if (e) {
    e->tag = (struct piece_tag) {
      .logged = e, .owner = u->index, .t0_us = -1,
    };
    e->src = src;
    log_changed (u);
  }
  flush = e && want_internal_flush (u);
  pthread_mutex_unlock (&u->log_lock);
  if (flush)
    send_internal_flush (u);
  if (err) {
    errno = err;
    return -1;
  }
  *ep = e;
  return 0;
}

void
replay_complete (struct upstream *u, struct replay_entry *e, bool ok)
{
  /* Only this thread touches a reserved entry: copy without the lock. */
  if (ok && e->op == ROUTE_WRITE)
    memcpy (e->data, e->src, e->count);
  pthread_mutex_lock (&u->log_lock);
  replay_log_complete (&u->log, e, ok);
  /* A failed entry at the tail frees at once, but not under a replay
   * walking the log.
   */
  if (!ok && !u->log_walking)
    replay_log_covered (&u->log, 0);
  log_changed (u);
  pthread_mutex_unlock (&u->log_lock);
}

uint64_t
replay_mark (struct upstream *u)
{
  uint64_t mark;

  if (!on)
    return 0;
  pthread_mutex_lock (&u->log_lock);
  mark = replay_log_mark (&u->log);
  pthread_mutex_unlock (&u->log_lock);
  return mark;
}

void
replay_covered (struct upstream *u, uint64_t mark)
{
  if (!on)
    return;
  pthread_mutex_lock (&u->log_lock);
  if (!u->log_walking && replay_log_covered (&u->log, mark) > 0)
    pthread_cond_broadcast (&u->log_room);
  log_changed (u);
  pthread_mutex_unlock (&u->log_lock);
}

bool
replay_holds (struct upstream *u)
{
  struct replay_walk w;
  struct replay_entry *e;
  bool r = false;

  if (!on)
    return false;
  pthread_mutex_lock (&u->log_lock);
  replay_log_walk_start (&u->log, &w);
  while (!r && (e = replay_log_next (&u->log, &w)) != NULL)
    r = e->state == REPLAY_DONE;
  pthread_mutex_unlock (&u->log_lock);
  return r;
}

/* One entry of a replay, out on the new handle. */
struct resend {
  bool out;
  uint64_t offset, end;
  int err;
};

static int
resend_done (void *vp, int *error)
{
  struct resend *r = vp;

  r->err = *error;
  r->out = false;
  return 1;
}

static bool
overlaps (const struct resend *r, uint64_t offset, uint64_t end)
{
  return r->out && offset < r->end && r->offset < end;
}

/* Drive nbd until nothing of slots[] overlaps [offset, end) and a slot
 * is free (offset == end: until all are back).  Returns a free slot,
 * or NULL if the handle died or the wait was ended.
 */
static struct resend *
wait_slot (struct upstream *u, struct nbd_handle *nbd, struct resend *slots,
           uint64_t offset, uint64_t end)
{
  for (;;) {
    struct resend *free_slot = NULL;
    bool clash = false;
    unsigned i, out = 0;
    struct pollfd fds[3];

    for (i = 0; i < REPLAY_WINDOW; ++i) {
      out += slots[i].out;
      clash |= overlaps (&slots[i], offset, end) ||
        (offset == end && slots[i].out);
      if (!slots[i].out && free_slot == NULL)
        free_slot = &slots[i];
    }
    if (!clash && free_slot)
      return free_slot;
    if (nbd_aio_is_dead (nbd) || nbd_aio_is_closed (nbd) ||
        atomic_load (&u->stopping) || shutdown_requested ())
      return NULL;
    fds[0] = (struct pollfd) { .fd = nbd_aio_get_fd (nbd),
                               .events = aio_poll_events (nbd) };
    fds[1] = (struct pollfd) { .fd = u->kick_fd, .events = POLLIN };
    fds[2] = (struct pollfd) { .fd = shutdown_fd (), .events = POLLIN };
    if (poll (fds, 3, -1) == -1) {
      if (errno == EINTR)
        continue;
      return NULL;
    }
    if (fds[1].revents & POLLIN)
      io_thread_drain_kicks (u);
    if (aio_notify (nbd, fds[0].revents) == -1)
      nbdkit_debug ("upstream connection %u: replay: %s",
                    u->index, nbd_get_error ());
  }
}

/* The next done entry of the walk, read under the lock. */
static struct replay_entry *
next_done (struct upstream *u, struct replay_walk *w, struct replay_entry *copy)
{
  struct replay_entry *e;

  pthread_mutex_lock (&u->log_lock);
  while ((e = replay_log_next (&u->log, w)) != NULL &&
         e->state != REPLAY_DONE)
    ;
  if (e)
    *copy = *e;
  pthread_mutex_unlock (&u->log_lock);
  return e;
}

static int64_t
resend (struct nbd_handle *nbd, const struct replay_entry *h,
        const unsigned char *data, nbd_completion_callback cb)
{
  /* A fast zero may be refused; the original was done, so a plain
   * zero will do.
   */
  uint32_t flags = h->flags & ~(LIBNBD_CMD_FLAG_FUA | LIBNBD_CMD_FLAG_FAST_ZERO);

  switch (h->op) {
  case ROUTE_WRITE:
    return nbd_aio_pwrite (nbd, data, h->count, h->offset, cb, flags);
  case ROUTE_ZERO:
    return nbd_aio_zero (nbd, h->count, h->offset, cb, flags);
  default:
    return nbd_aio_trim (nbd, h->count, h->offset, cb, flags);
  }
}

/* Send the done entries of the walk on nbd, in order, and flush.
 * 0, -1 if nbd was lost or the wait ended, or the errno the server
 * answered.
 */
static int
send_log (struct upstream *u, struct nbd_handle *nbd, struct replay_walk *w,
          uint64_t *entries, uint64_t *bytes)
{
  struct resend slots[REPLAY_WINDOW] = { { 0 } };
  struct replay_entry *e, h;
  int err = 0;
  unsigned i;

  while ((e = next_done (u, w, &h)) != NULL) {
    struct resend *r = wait_slot (u, nbd, slots, h.offset,
                                  h.offset + h.count);
    nbd_completion_callback cb = { .callback = resend_done, .user_data = r };

    if (r == NULL)
      return -1;
    if (r->err) {
      err = r->err;
      break;
    }
    *r = (struct resend) { .out = true, .offset = h.offset,
                           .end = h.offset + h.count };
    if (resend (nbd, &h, e->data, cb) == -1) {
      r->out = false;
      return -1;
    }
    ++*entries;
    *bytes += h.op == ROUTE_WRITE ? h.count : 0;
  }
  if (wait_slot (u, nbd, slots, 0, 0) == NULL)
    return -1;
  for (i = 0; i < REPLAY_WINDOW && !err; ++i)
    err = slots[i].err;
  if (err == 0 && *entries > 0 && pool.caps.can_flush) {
    /* All are back: the first slot serves for the flush. */
    nbd_completion_callback cb = { .callback = resend_done,
                                   .user_data = &slots[0] };
    slots[0] = (struct resend) { .out = true, .end = UINT64_MAX };
    if (nbd_aio_flush (nbd, cb, 0) == -1) {
      slots[0].out = false;
      return -1;
    }
    if (wait_slot (u, nbd, slots, 0, 0) == NULL)
      return -1;
    err = slots[0].err;
  }
  if (err && (nbd_aio_is_dead (nbd) || nbd_aio_is_closed (nbd)))
    return -1;
  return err;
}

int
replay_onto (struct upstream *u, struct nbd_handle *nbd)
{
  struct replay_walk w;
  uint64_t mark, entries = 0, bytes = 0;
  int64_t start = now_ms ();
  int err;

  if (!on)
    return 0;
  /* Nothing frees entries while the connection is down: no flush of
   * it can succeed.  Entries reserved from here on go after these.
   */
  pthread_mutex_lock (&u->log_lock);
  mark = replay_log_mark (&u->log);
  replay_log_walk_start (&u->log, &w);
  u->log_walking = true;
  pthread_mutex_unlock (&u->log_lock);
  err = send_log (u, nbd, &w, &entries, &bytes);
  pthread_mutex_lock (&u->log_lock);
  u->log_walking = false;
  pthread_mutex_unlock (&u->log_lock);
  if (err == -1)
    return -1;

  if (err) {
    /* The server answered no: what the log held cannot be saved. */
    nbdkit_error ("upstream connection %u: the new connection refused the "
                  "writes it had to take again (%s)", u->index,
                  strerror (err));
    pthread_mutex_lock (&u->log_lock);
    replay_log_forget (&u->log);
    log_changed (u);
    pthread_cond_broadcast (&u->log_room);
    pthread_mutex_unlock (&u->log_lock);
    return -2;
  }
  replay_covered (u, mark);
  if (entries > 0) {
    atomic_fetch_add_explicit (&u->stats.replays, 1, memory_order_relaxed);
    nbdkit_debug ("upstream connection %u: sent again %" PRIu64 " writes, "
                  "zeroes and trims (%" PRIu64 " bytes of data) that no "
                  "flush had covered, in %" PRIi64 " ms", u->index, entries,
                  bytes, now_ms () - start);
  }
  return 0;
}
