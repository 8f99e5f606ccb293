/* nbdkit-multicopy plugin: opening the upstream connections.
 *
 * All N handshakes run at once, driven by our own poll loop, so that
 * one deadline bounds them all.  An upstream that accepts fewer
 * connections than asked (qemu-nbd's default --shared=1 lets a second
 * client wait forever in the handshake) costs the timeout, not a hang:
 * the ones still negotiating at the deadline are dropped and the pool
 * goes on with those that came up.
 */

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libnbd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "config.h"
#include "params.h"
#include "pool.h"

/* -D multicopy.verbose=1 turns on libnbd's debugging. */
NBDKIT_DLL_PUBLIC int multicopy_debug_verbose = 0;

int64_t
now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
configure_tls (struct nbd_handle *nbd)
{
  if (nbd_set_tls (nbd, config.tls) == -1)
    return -1;
  if (config.tls_certificates &&
      nbd_set_tls_certificates (nbd, config.tls_certificates) == -1)
    return -1;
  if (config.tls_verify != -1 &&
      nbd_set_tls_verify_peer (nbd, config.tls_verify) == -1)
    return -1;
  if (config.tls_username &&
      nbd_set_tls_username (nbd, config.tls_username) == -1)
    return -1;
  if (config.tls_psk && nbd_set_tls_psk_file (nbd, config.tls_psk) == -1)
    return -1;
  return 0;
}

/* Create handle i and start its connection without waiting. */
static struct nbd_handle *
start_connect (unsigned i, bool quiet)
{
  struct nbd_handle *nbd;
  char name[32];

  nbd = nbd_create ();
  if (nbd == NULL)
    goto err;
  snprintf (name, sizeof name, "multicopy%u", i);
  if (nbd_set_handle_name (nbd, name) == -1 ||
      nbd_set_debug (nbd, multicopy_debug_verbose != 0) == -1 ||
      nbd_add_meta_context (nbd, LIBNBD_CONTEXT_BASE_ALLOCATION) == -1 ||
      nbd_set_full_info (nbd, true) == -1 ||
      /* nbdkit hands us buffers it has already initialized. */
      nbd_set_pread_initialize (nbd, false) == -1 ||
      /* The URI comes from the command line, so it may name files. */
      nbd_set_uri_allow_local_file (nbd, true) == -1 ||
      configure_tls (nbd) == -1)
    goto err;
  if (config.export && nbd_set_export_name (nbd, config.export) == -1)
    goto err;

  if (config.uri) {
    if (nbd_aio_connect_uri (nbd, config.uri) == -1)
      goto err;
  }
  else if (config.socket) {
    if (nbd_aio_connect_unix (nbd, config.socket) == -1)
      goto err;
  }
  else {
    if (nbd_aio_connect_tcp (nbd, config.hostname,
                             config.port ? config.port : "10809") == -1)
      goto err;
  }
  return nbd;

 err:
  if (quiet)
    nbdkit_debug ("upstream connection %u: %s", i, nbd_get_error ());
  else
    nbdkit_error ("upstream connection %u: %s", i, nbd_get_error ());
  nbd_close (nbd);
  return NULL;
}

/* Poll events for what libnbd wants next, 0 if it wants nothing. */
static short
wanted_events (struct nbd_handle *nbd)
{
  unsigned dir = nbd_aio_get_direction (nbd);

  return ((dir & LIBNBD_AIO_DIRECTION_READ) ? POLLIN : 0) |
    ((dir & LIBNBD_AIO_DIRECTION_WRITE) ? POLLOUT : 0);
}

/* Tell libnbd about what poll saw.  Errors and hangups go to whichever
 * side libnbd is waiting on, so that a refused connect is reported as
 * such rather than left to time out.
 */
static int
notify (struct nbd_handle *nbd, short revents)
{
  unsigned dir = nbd_aio_get_direction (nbd);

  if ((dir & LIBNBD_AIO_DIRECTION_READ) &&
      (revents & (POLLIN | POLLHUP | POLLERR)))
    return nbd_aio_notify_read (nbd);
  if ((dir & LIBNBD_AIO_DIRECTION_WRITE) &&
      (revents & (POLLOUT | POLLHUP | POLLERR)))
    return nbd_aio_notify_write (nbd);
  return 0;
}

int
upstream_connect (struct nbd_handle **handles, unsigned first,
                  unsigned wanted, bool quiet)
{
  void (*report) (const char *fs, ...) = quiet ? nbdkit_debug : nbdkit_error;
  struct nbd_handle *pending[MULTICOPY_CONNECTIONS_MAX];
  struct pollfd fds[MULTICOPY_CONNECTIONS_MAX];
  unsigned idx[MULTICOPY_CONNECTIONS_MAX];
  char first_error[256] = "";
  int64_t deadline = now_ms () + config.connect_timeout_ms;
  unsigned i, nfds, ready = 0, stuck = 0;

  for (i = 0; i < wanted; ++i) {
    pending[i] = start_connect (first + i, quiet);
    if (pending[i] == NULL) {
      /* Setup errors (a bad URI, say) are the same for every handle. */
      while (i-- > 0)
        nbd_close (pending[i]);
      return -1;
    }
  }

  for (;;) {
    int64_t left;

    nfds = 0;
    for (i = 0; i < wanted; ++i) {
      struct nbd_handle *nbd = pending[i];

      if (nbd == NULL || nbd_aio_is_ready (nbd))
        continue;
      if (nbd_aio_is_dead (nbd) || nbd_aio_is_closed (nbd)) {
        if (first_error[0] == '\0')
          snprintf (first_error, sizeof first_error,
                    "the server closed the connection");
        nbd_close (nbd);
        pending[i] = NULL;
        continue;
      }
      fds[nfds].fd = nbd_aio_get_fd (nbd);
      fds[nfds].events = wanted_events (nbd);
      fds[nfds].revents = 0;
      idx[nfds++] = i;
    }
    if (nfds == 0)
      break;

    left = deadline - now_ms ();
    if (left <= 0)
      break;
    if (poll (fds, nfds, left) == -1) {
      if (errno == EINTR)
        continue;
      nbdkit_error ("poll: %m");
      break;
    }
    for (i = 0; i < nfds; ++i) {
      if (fds[i].revents == 0 ||
          notify (pending[idx[i]], fds[i].revents) == 0)
        continue;
      /* libnbd's message is per thread: keep it before the next call. */
      nbdkit_debug ("upstream connection %u: %s", first + idx[i],
                    nbd_get_error ());
      if (first_error[0] == '\0')
        snprintf (first_error, sizeof first_error, "%s", nbd_get_error ());
    }
  }

  /* Keep the ready ones, in order; drop those still negotiating. */
  for (i = 0; i < wanted; ++i) {
    if (pending[i] == NULL)
      continue;
    if (nbd_aio_is_ready (pending[i]))
      handles[ready++] = pending[i];
    else {
      nbd_close (pending[i]);
      stuck++;
    }
  }

  if (ready == 0) {
    if (first_error[0])
      report ("cannot connect to the upstream: %s", first_error);
    else
      report ("cannot connect to the upstream: no handshake finished "
                    "within connect-timeout (%u.%03us)",
                    config.connect_timeout_ms / 1000,
                    config.connect_timeout_ms % 1000);
    return -1;
  }
  if (stuck > 0)
    nbdkit_debug ("%u upstream handshake(s) did not finish within "
                  "connect-timeout", stuck);
  return ready;
}
