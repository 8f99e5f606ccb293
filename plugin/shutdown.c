/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: knowing that nbdkit is shutting down.
 *
 * On SIGTERM nbdkit 1.32 stops taking requests, waits for every
 * request in flight, and only then calls .cleanup.  It tells a plugin
 * nothing in between.  So a request waiting for a dead upstream to
 * come back (up to reconnect-timeout=) or for a reply from a stopped
 * one would hold the whole exit up.
 *
 * nbdkit_nanosleep, called from a thread that serves no client, ends
 * early only when nbdkit is shutting down.  A watcher thread sleeps in
 * it, but only while some request waits on the upstream: it logs an
 * error each time it ends early, which would be noise at every normal
 * exit.  When it sees the shutdown it says so here; waits for a
 * reconnect look and end, and the I/O threads give the upstream
 * shutdown-timeout seconds to answer what is in flight before they
 * cut their connections.
 */

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "clock.h"
#include "config.h"
#include "shutdown.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static unsigned waiting;        /* requests in shutdown_wait_begin */
static bool stop;               /* .cleanup */
static pthread_t watcher;
static bool watcher_started;

static atomic_bool requested;
static _Atomic int64_t cut_deadline = -1;
static int quit_fd = -1;        /* eventfd, written once */

bool
shutdown_requested (void)
{
  return atomic_load (&requested);
}

int
shutdown_fd (void)
{
  return quit_fd;
}

int64_t
shutdown_cut_deadline (void)
{
  return atomic_load (&cut_deadline);
}

/* Once: make every wait and poll loop notice. */
static void
request_shutdown (void)
{
  const uint64_t one = 1;

  if (atomic_exchange (&requested, true))
    return;
  atomic_store (&cut_deadline, now_ms () + config.shutdown_timeout_ms);
  if (quit_fd >= 0 && write (quit_fd, &one, sizeof one) == -1)
    nbdkit_debug ("shutdown: eventfd: %m");
}

static void *
watch (void *arg)
{
  pthread_mutex_lock (&lock);
  while (!stop && !shutdown_requested ()) {
    int r;

    if (waiting == 0) {
      pthread_cond_wait (&cond, &lock);
      continue;
    }
    pthread_mutex_unlock (&lock);
    r = nbdkit_nanosleep (1, 0);
    pthread_mutex_lock (&lock);
    if (r == -1)
      request_shutdown ();
  }
  pthread_mutex_unlock (&lock);
  return NULL;
}

int
shutdown_watch_start (void)
{
  int err;

  quit_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (quit_fd == -1) {
    nbdkit_error ("eventfd: %m");
    return -1;
  }
  err = pthread_create (&watcher, NULL, watch, NULL);
  if (err) {
    errno = err;
    nbdkit_error ("pthread_create: %m");
    return -1;
  }
  watcher_started = true;
  return 0;
}

void
shutdown_begin (void)
{
  request_shutdown ();
  pthread_mutex_lock (&lock);
  stop = true;
  pthread_cond_broadcast (&cond);
  pthread_mutex_unlock (&lock);
  if (watcher_started) {
    pthread_join (watcher, NULL);
    watcher_started = false;
  }
}

void
shutdown_watch_end (void)
{
  if (quit_fd >= 0)
    close (quit_fd);
  quit_fd = -1;
}

void
shutdown_wait_begin (void)
{
  pthread_mutex_lock (&lock);
  if (waiting++ == 0)
    pthread_cond_broadcast (&cond);
  pthread_mutex_unlock (&lock);
}

void
shutdown_wait_end (void)
{
  pthread_mutex_lock (&lock);
  waiting--;
  pthread_mutex_unlock (&lock);
}
