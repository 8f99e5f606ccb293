/* nbdkit-multicopy plugin: one I/O thread per upstream connection.
 *
 * nbdkit's worker threads issue commands themselves (nbd_aio_* sends
 * what the socket takes at once).  This thread does the rest: it polls
 * libnbd's socket, reads replies (which runs the completion callbacks
 * that wake the waiting workers) and finishes sends that did not fit.
 * It polls its own loop rather than nbd_poll, which would hold the
 * handle's lock while asleep and stall every issuer.
 */

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <libnbd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "pool.h"

static void *
io_thread (void *vp)
{
  struct upstream *u = vp;
  struct pollfd fds[2];

  fds[0].fd = u->fd;
  fds[1].fd = u->kick_fd;
  fds[1].events = POLLIN;

  while (!nbd_aio_is_dead (u->nbd) && !nbd_aio_is_closed (u->nbd)) {
    unsigned dir = nbd_aio_get_direction (u->nbd);

    fds[0].events = ((dir & LIBNBD_AIO_DIRECTION_READ) ? POLLIN : 0) |
      ((dir & LIBNBD_AIO_DIRECTION_WRITE) ? POLLOUT : 0);
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

    /* Another thread may have moved the state machine meanwhile. */
    dir = nbd_aio_get_direction (u->nbd);
    if ((dir & LIBNBD_AIO_DIRECTION_READ) &&
        (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      if (nbd_aio_notify_read (u->nbd) == -1)
        nbdkit_debug ("upstream connection %u: %s",
                      u->index, nbd_get_error ());
    }
    else if ((dir & LIBNBD_AIO_DIRECTION_WRITE) &&
             (fds[0].revents & (POLLOUT | POLLHUP | POLLERR))) {
      if (nbd_aio_notify_write (u->nbd) == -1)
        nbdkit_debug ("upstream connection %u: %s",
                      u->index, nbd_get_error ());
    }
  }

  /* libnbd has failed every command that was in flight here, and will
   * refuse new ones at once: requests for this connection's stripes
   * fail with EIO from now on.  Say so once, unless we closed it.
   */
  if (!atomic_load (&u->stopping))
    nbdkit_error ("upstream connection %u %s; requests for its stripes "
                  "will fail", u->index,
                  nbd_aio_is_dead (u->nbd) ? "died" : "was closed by the server");
  return NULL;
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

/* The caller has asked libnbd to disconnect; wait for the thread to see
 * the connection close.
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
