/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: knowing that nbdkit is shutting down.
 *
 * On SIGTERM (or SIGINT, SIGQUIT, SIGHUP) nbdkit 1.32 stops taking
 * requests, waits for every request in flight, and only then calls
 * .cleanup.  It tells a plugin nothing in between, so a request
 * waiting for a dead upstream to come back (up to reconnect-timeout=)
 * or for a reply from a stopped one would hold the whole exit up.
 *
 * The only call that hears of the shutdown, nbdkit_nanosleep, logs an
 * error each time it does, which the operator would read as a fault
 * at every stop.  So we hear the signal itself: our handler goes in
 * front of nbdkit's (installed before .after_fork), notes the time,
 * writes an eventfd that poll loops watch, and calls nbdkit's.
 *
 * A shutdown that no signal starts (nbdkit_shutdown () called by
 * another filter) is not heard before .cleanup: requests then wait
 * out their own bounds (reconnect-timeout=, the upstream's replies).
 */

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "clock.h"
#include "config.h"
#include "in-flight.h"
#include "shutdown.h"

/* The signals nbdkit quits on, and its handlers for them. */
static const int quit_signals[] = { SIGINT, SIGQUIT, SIGTERM, SIGHUP };
#define NR_QUIT_SIGNALS (sizeof quit_signals / sizeof quit_signals[0])
static struct sigaction nbdkit_action[NR_QUIT_SIGNALS];
static bool chained[NR_QUIT_SIGNALS];

static atomic_bool requested, cleaning;
static _Atomic int64_t drain_deadline = -1;
static int quit_fd = -1;        /* eventfd, written once */

bool
shutdown_requested (void)
{
  return atomic_load (&requested);
}

bool
shutdown_cleaning (void)
{
  return atomic_load (&cleaning);
}

int
shutdown_fd (void)
{
  return quit_fd;
}

int64_t
shutdown_drain_deadline (void)
{
  return atomic_load (&drain_deadline);
}

/* Once: make every wait and poll loop notice.  Async-signal-safe:
 * lock-free atomics, clock_gettime and write only.
 */
static void
note_shutdown (void)
{
  const uint64_t one = 1;

  if (atomic_exchange (&requested, true))
    return;
  atomic_store (&drain_deadline, now_ms () + config.shutdown_timeout_ms);
  /* If it fails, the counter is full: readable already. */
  if (quit_fd >= 0)
    (void) !write (quit_fd, &one, sizeof one);
}

static void
on_quit_signal (int sig)
{
  int saved = errno;
  size_t i;

  note_shutdown ();
  for (i = 0; i < NR_QUIT_SIGNALS; ++i)
    if (quit_signals[i] == sig && chained[i])
      nbdkit_action[i].sa_handler (sig);
  errno = saved;
}

int
shutdown_watch_start (void)
{
  size_t i;

  quit_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (quit_fd == -1) {
    nbdkit_error ("eventfd: %m");
    return -1;
  }
  in_flight_stop_when (shutdown_requested);
  for (i = 0; i < NR_QUIT_SIGNALS; ++i) {
    struct sigaction ours;

    if (sigaction (quit_signals[i], NULL, &nbdkit_action[i]) == -1)
      continue;
    /* Only where nbdkit quits on the signal through a handler of its
     * own: a signal ignored, or left to kill, stays so.
     */
    if ((nbdkit_action[i].sa_flags & SA_SIGINFO) ||
        nbdkit_action[i].sa_handler == SIG_DFL ||
        nbdkit_action[i].sa_handler == SIG_IGN)
      continue;
    ours = nbdkit_action[i];
    ours.sa_handler = on_quit_signal;
    chained[i] = true;
    if (sigaction (quit_signals[i], &ours, NULL) == -1)
      chained[i] = false;
  }
  return 0;
}

void
shutdown_begin (void)
{
  note_shutdown ();
  atomic_store (&cleaning, true);
}

void
shutdown_watch_end (void)
{
  size_t i;

  /* Before the plugin is unloaded, nbdkit's handlers go back. */
  for (i = 0; i < NR_QUIT_SIGNALS; ++i)
    if (chained[i])
      sigaction (quit_signals[i], &nbdkit_action[i], NULL);
  if (quit_fd >= 0)
    close (quit_fd);
  quit_fd = -1;
}
