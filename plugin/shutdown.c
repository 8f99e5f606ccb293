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
 * exit.  When it sees the shutdown it wakes every waiting request and
 * gives the upstream shutdown-timeout seconds to answer the requests
 * in flight; then it cuts the connections that still have some.
 */

/* sem_clockwait, pthread_cond_clockwait */
#define _GNU_SOURCE

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "clock.h"
#include "config.h"
#include "io-thread.h"
#include "pool.h"
#include "reconnect.h"
#include "shutdown.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static unsigned waiting;        /* requests in shutdown_wait_begin */
static bool stop;               /* .cleanup */
static pthread_t watcher;
static bool watcher_started;

static atomic_bool requested;
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

/* Once: make every wait and poll loop notice. */
static void
request_shutdown (void)
{
  const uint64_t one = 1;

  if (atomic_exchange (&requested, true))
    return;
  if (quit_fd >= 0 && write (quit_fd, &one, sizeof one) == -1)
    nbdkit_debug ("shutdown: eventfd: %m");
  upstream_wake_waiters ();
}

/* Requests still waiting on the upstream, shutdown-timeout after the
 * shutdown began: cut their connections.
 */
static void
cut_busy (void)
{
  unsigned i;

  for (i = 0; i < pool.nr; ++i)
    io_thread_cut_if_busy (&pool.conn[i],
                           "still no reply shutdown-timeout after nbdkit "
                           "was asked to shut down");
}

static void *
watch (void *arg)
{
  bool cut = false;
  int64_t cut_at = 0;

  pthread_mutex_lock (&lock);
  while (!stop) {
    if (!shutdown_requested ()) {
      int r;

      if (waiting == 0) {
        pthread_cond_wait (&cond, &lock);
        continue;
      }
      pthread_mutex_unlock (&lock);
      r = nbdkit_nanosleep (1, 0);
      pthread_mutex_lock (&lock);
      if (r == -1) {
        request_shutdown ();
        cut_at = now_ms () + config.shutdown_timeout_ms;
      }
    }
    else if (!cut && waiting > 0) {
      int64_t left = cut_at - now_ms ();

      if (left <= 0) {
        pthread_mutex_unlock (&lock);
        cut_busy ();
        pthread_mutex_lock (&lock);
        cut = true;
      }
      else {
        struct timespec ts;

        clock_gettime (CLOCK_MONOTONIC, &ts);
        ts.tv_sec += left / 1000;
        ts.tv_nsec += left % 1000 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
          ts.tv_sec++;
          ts.tv_nsec -= 1000000000;
        }
        pthread_cond_clockwait (&cond, &lock, CLOCK_MONOTONIC, &ts);
      }
    }
    else
      pthread_cond_wait (&cond, &lock);
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
