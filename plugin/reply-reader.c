/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: the threads that read the replies of the
 * connections that are up, several connections each.
 *
 * A thread per connection that wakes for every reply costs a wake-up
 * and two context switches per reply whenever each connection has
 * few requests out, which is how 16 connections share a small
 * client's queue: fio's 4K writes at queue depth 32 spread over 16
 * connections reach each with one or two.  One thread polling many
 * connections reads what several of them answered in one wake-up.
 * So while a connection is up and nothing else is going on (steady),
 * its I/O thread leaves the reading of its replies to the reader of
 * its group (connection i to reader i mod readers), and keeps the
 * rest: sends that did not fit the socket, probes, a server that goes
 * away, exit, reconnects.  Anything else, and the I/O thread takes
 * the reading back (io-thread.c).
 *
 * The reader reads under the read side of the connection's
 * handle_lock, so the I/O thread's swap of a handle waits for it.  It
 * tells the I/O thread, with a kick, what the I/O thread would have
 * seen reading itself: the handle dead or closed, or a server that
 * answered NBD_ESHUTDOWN.
 */

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <libnbd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "aio-events.h"
#include "completion.h"
#include "config.h"
#include "kick.h"
#include "reply-reader.h"
#include "thread.h"
#include "upstream.h"

struct reader {
  unsigned index;
  int kick_fd;                  /* eventfd: rebuild the poll set */
  pthread_t thread;
  bool started;
};

static struct reader *readers;
static unsigned nr_readers;
static atomic_bool stopping;

static void
kick (struct reader *r)
{
  const uint64_t one = 1;

  /* EAGAIN means the counter is full: the thread is due to wake anyway. */
  if (write (r->kick_fd, &one, sizeof one) == -1 && errno != EAGAIN)
    nbdkit_debug ("reply reader %u: kick: %m", r->index);
}

static void
drain_kicks (struct reader *r)
{
  uint64_t n;

  if (read (r->kick_fd, &n, sizeof n) == -1 && errno != EAGAIN)
    nbdkit_debug ("reply reader %u: kick: %m", r->index);
}

/* The socket of a connection handed over: its handle does not change
 * while it is (the I/O thread takes the reading back first), but the
 * field is the I/O thread's, read under the lock that guards it.
 */
static int
socket_of (struct upstream *u)
{
  int fd;

  pthread_rwlock_rdlock (&u->handle_lock);
  fd = u->fd;
  pthread_rwlock_unlock (&u->handle_lock);
  return fd;
}

/* Hand libnbd what poll saw on u, if u is still handed over, and tell
 * its I/O thread what it must act on.
 */
static void
read_replies (struct upstream *u, short revents)
{
  bool gone = false;

  pthread_rwlock_rdlock (&u->handle_lock);
  if (atomic_load (&u->to_reader)) {
    if (aio_notify (u->nbd, revents) == -1)
      nbdkit_debug ("upstream connection %u: %s", u->index, nbd_get_error ());
    gone = nbd_aio_is_dead (u->nbd) || nbd_aio_is_closed (u->nbd);
  }
  pthread_rwlock_unlock (&u->handle_lock);
  /* The completions of u's replies ran on this thread (a probe's
   * notes it in u itself).
   */
  if (completion_heard_goodbye ())
    atomic_store (&u->heard_goodbye, true);
  if (gone || atomic_load (&u->heard_goodbye))
    io_thread_kick (u);
}

/* Connection i's socket and generation, as last seen by a reader. */
struct seen {
  unsigned gen;
  int fd;
};

static void *
reader_thread (void *vp)
{
  struct reader *r = vp;
  unsigned most = (pool.nr + nr_readers - 1) / nr_readers;
  struct pollfd *fds = calloc (most + 1, sizeof *fds);
  struct upstream **who = calloc (most + 1, sizeof *who);
  struct seen *seen = calloc (most, sizeof *seen);
  unsigned i, k, n;

  if (fds == NULL || who == NULL || seen == NULL) {
    /* Nobody hands anything to a reader that is not running. */
    nbdkit_error ("reply reader %u: calloc: %m", r->index);
    abort ();
  }
  for (k = 0; k < most; ++k)
    seen[k] = (struct seen) { .gen = -1u, .fd = -1 };
  fds[0] = (struct pollfd) { .fd = r->kick_fd, .events = POLLIN };

  while (!atomic_load (&stopping)) {
    n = 1;
    for (i = r->index, k = 0; i < pool.nr; i += nr_readers, ++k) {
      struct upstream *u = &pool.conn[i];
      unsigned gen = atomic_load (&u->gen);

      if (!atomic_load (&u->to_reader))
        continue;
      if (seen[k].gen != gen)
        seen[k] = (struct seen) { .gen = gen, .fd = socket_of (u) };
      fds[n] = (struct pollfd) { .fd = seen[k].fd, .events = POLLIN };
      who[n++] = u;
    }
    if (poll (fds, n, -1) == -1) {
      if (errno != EINTR)
        nbdkit_debug ("reply reader %u: poll: %m", r->index);
      continue;
    }
    if (fds[0].revents & POLLIN)
      drain_kicks (r);
    for (k = 1; k < n; ++k)
      if (fds[k].revents)
        read_replies (who[k], fds[k].revents);
  }
  free (fds);
  free (who);
  free (seen);
  return NULL;
}

/* How many: what reply-threads= says, else one for two processors (on
 * a small machine, the fewer threads wake, the more each reads at a
 * wake-up), never more than the connections.
 */
static unsigned
how_many (void)
{
  long cpus = sysconf (_SC_NPROCESSORS_ONLN);
  long n = config.reply_threads;

  if (n == MULTICOPY_REPLY_THREADS_AUTO)
    n = cpus > 1 ? cpus / 2 : 1;
  return n > (long) pool.nr ? pool.nr : (unsigned) n;
}

int
reply_readers_start (void)
{
  unsigned i;

  nr_readers = how_many ();
  if (nr_readers == 0)
    return 0;
  readers = calloc (nr_readers, sizeof *readers);
  if (readers == NULL) {
    nbdkit_error ("calloc: %m");
    nr_readers = 0;
    return -1;
  }
  atomic_store (&stopping, false);
  for (i = 0; i < nr_readers; ++i)
    readers[i].kick_fd = -1;
  for (i = 0; i < nr_readers; ++i) {
    char what[64];

    readers[i].index = i;
    readers[i].kick_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (readers[i].kick_fd == -1) {
      nbdkit_error ("eventfd: %m");
      return -1;
    }
    snprintf (what, sizeof what, "reply reader %u", i);
    if (thread_start (&readers[i].thread, reader_thread, &readers[i],
                      what) == -1)
      return -1;
    readers[i].started = true;
  }
  nbdkit_debug ("%u reply reader thread%s for %u connections", nr_readers,
                nr_readers == 1 ? "" : "s", pool.nr);
  return 0;
}

void
reply_readers_stop (void)
{
  unsigned i;

  atomic_store (&stopping, true);
  for (i = 0; i < nr_readers; ++i) {
    if (readers[i].started) {
      kick (&readers[i]);
      pthread_join (readers[i].thread, NULL);
    }
    if (readers[i].kick_fd >= 0)
      close (readers[i].kick_fd);
  }
  free (readers);
  readers = NULL;
  nr_readers = 0;
}

bool
reply_reader_hand (struct upstream *u, bool steady)
{
  struct reader *r;

  if (nr_readers == 0 || !readers[u->index % nr_readers].started)
    return false;
  r = &readers[u->index % nr_readers];
  if (atomic_exchange (&u->to_reader, steady) != steady && steady)
    kick (r);
  return steady;
}
