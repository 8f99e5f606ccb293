/* nbdkit-multicopy plugin: one I/O thread per upstream connection.
 *
 * nbdkit's worker threads issue commands themselves (nbd_aio_* sends
 * what the socket takes at once).  This thread does the rest: it polls
 * libnbd's socket, reads replies (which runs the completion callbacks
 * that wake the waiting workers) and finishes sends that did not fit.
 * It polls its own loop rather than nbd_poll, which would hold the
 * handle's lock while asleep and stall every issuer.  It also owns the
 * handle's life: it replaces a dead one (reconnect.c) and sends the
 * disconnect at exit.
 */

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <libnbd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "aio-events.h"
#include "pool.h"

/* Drive one handle until it dies or closes. */
static void
run_connection (struct upstream *u)
{
  struct pollfd fds[2];
  bool disconnecting = false;

  fds[0].fd = u->fd;
  fds[1].fd = u->kick_fd;
  fds[1].events = POLLIN;

  while (!nbd_aio_is_dead (u->nbd) && !nbd_aio_is_closed (u->nbd)) {
    /* pool_close has flushed and nothing is in flight any more. */
    if (atomic_load (&u->stopping) && !disconnecting) {
      if (nbd_aio_disconnect (u->nbd, 0) == -1)
        break;
      disconnecting = true;
    }

    fds[0].events = aio_poll_events (u->nbd);
    if (poll (fds, 2, -1) == -1) {
      if (errno == EINTR)
        continue;
      nbdkit_error ("upstream connection %u: poll: %m", u->index);
      break;
    }

    if (fds[1].revents & POLLIN) {
      uint64_t n;
      if (read (u->kick_fd, &n, sizeof n) == -1 && errno != EAGAIN)
        nbdkit_debug ("upstream connection %u: kick: %m", u->index);
    }

    if (aio_notify (u->nbd, fds[0].revents) == -1)
      nbdkit_debug ("upstream connection %u: %s", u->index, nbd_get_error ());
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
    upstream_reconnect (u);
    if (atomic_load (&u->stopping))
      return NULL;
  }
}

int
io_thread_start (struct upstream *u)
{
  int err;

  u->kick_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (u->kick_fd == -1) {
    nbdkit_error ("eventfd: %m");
    return -1;
  }
  err = pthread_create (&u->io_thread, NULL, io_thread, u);
  if (err) {
    errno = err;
    nbdkit_error ("pthread_create: %m");
    return -1;
  }
  u->io_thread_started = true;
  return 0;
}

void
io_thread_kick (struct upstream *u)
{
  const uint64_t one = 1;

  /* EAGAIN means the counter is full: the thread is due to wake anyway. */
  if (write (u->kick_fd, &one, sizeof one) == -1 && errno != EAGAIN)
    nbdkit_debug ("upstream connection %u: kick: %m", u->index);
}

/* The caller has set stopping: wake the thread to disconnect (or to
 * stop reconnecting) and wait for it.
 */
void
io_thread_stop (struct upstream *u)
{
  if (!u->io_thread_started)
    return;
  io_thread_kick (u);
  pthread_join (u->io_thread, NULL);
  u->io_thread_started = false;
}
