/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: opening the upstream connections.
 *
 * All N handshakes run at once, driven by our own poll loop, so that
 * one deadline bounds them all.  An upstream that accepts fewer
 * connections than asked (qemu-nbd's default --shared=1 lets a second
 * client wait forever in the handshake) costs a grace, not a hang: the
 * ones still negotiating then are dropped and the pool goes on with
 * those that came up.  With several servers (uri= given several
 * times), connection i goes to server i mod S, and each server gets
 * its own grace and its own error.
 *
 * At startup the upstream may not be up yet (a service started in the
 * wrong order, a socket not yet created): then the whole attempt is
 * repeated with backoff for up to retry= seconds, as nbdkit's nbd
 * plugin does with its retry=.  Every server must have a connection.
 */

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libnbd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "log.h"
#include "aio-events.h"
#include "clock.h"
#include "config.h"
#include "connect.h"
#include "params.h"

NBDKIT_DLL_PUBLIC int multicopy_debug_verbose = 0;

/* Larger buffers let a request's data go out in one send, with fewer
 * wake-ups of the I/O thread.  As root the system's maximum does not
 * apply (SO_SNDBUFFORCE).  Only ever a hint: failures are ignored.
 */
static void
size_socket_buffers (struct nbd_handle *nbd)
{
  int fd = nbd_aio_get_fd (nbd);
  int bytes = config.socket_buffer;  /* at most 1G: config.h */

  if (bytes == 0 || fd == -1)
    return;
  if (setsockopt (fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof bytes) == -1)
    setsockopt (fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
  if (setsockopt (fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) == -1)
    setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
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

/* -D multicopy.verbose=1: libnbd's debug messages, in nbdkit's log. */
static int
libnbd_debug (void *user_data, const char *context, const char *msg)
{
  nbdkit_debug ("libnbd: multicopy%u: %s: %s",
                (unsigned) (uintptr_t) user_data, context, msg);
  return 0;
}

/* Keep the first error of each server: libnbd's message is per
 * thread, so copy it before the next call.
 */
static void
failed (struct connect_failure *why, unsigned i, int err, const char *msg)
{
  nbdkit_debug ("upstream connection %u: %s", i, msg);
  if (why->msg[0] == '\0') {
    why->err = err;
    why->in_handshake = false;
    snprintf (why->msg, sizeof why->msg, "%s", msg);
  }
}

/* A failure while driving the handle: a TCP connect that failed, or
 * the server's answer in the handshake (a Unix socket connects, or
 * fails to, within nbd_aio_connect_*).
 */
static void
failed_in_handshake (struct connect_failure *why, unsigned i)
{
  bool first = why->msg[0] == '\0';

  failed (why, i, nbd_get_errno (), nbd_get_error ());
  if (first)
    why->in_handshake = true;
}

/* Create handle i for server s and start its connection without
 * waiting.
 */
static struct nbd_handle *
start_connect (unsigned i, unsigned s, struct connect_failure *why)
{
  const struct upstream_server *srv = &config.servers[s];
  struct nbd_handle *nbd;
  char name[32];
  int r;

  nbd = nbd_create ();
  if (nbd == NULL)
    goto err;
  snprintf (name, sizeof name, "multicopy%u", i);
  if (nbd_set_handle_name (nbd, name) == -1 ||
      (multicopy_debug_verbose &&
       nbd_set_debug_callback (nbd, (nbd_debug_callback) {
           .callback = libnbd_debug,
           .user_data = (void *) (uintptr_t) i }) == -1) ||
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

  if (srv->uri)
    r = nbd_aio_connect_uri (nbd, srv->uri);
  else if (srv->socket)
    r = nbd_aio_connect_unix (nbd, srv->socket);
  else if (srv->vsock)
    r = nbd_aio_connect_vsock (nbd, srv->cid, config.vsock_port);
  else
    r = nbd_aio_connect_tcp (nbd, srv->hostname,
                             config.port ? config.port : "10809");
  if (r == -1)
    goto err;
  return nbd;

 err:
  failed (why, i, nbd_get_errno (), nbd_get_error ());
  nbd_close (nbd);
  return NULL;
}

/* One round of handshakes, as upstream_connect runs it. */
struct round {
  struct nbd_handle *pending[MULTICOPY_CONNECTIONS_MAX]; /* NULL: gone */
  const unsigned *servers;
  unsigned first, wanted;
  int64_t start;
  int64_t until[MULTICOPY_SERVERS_MAX]; /* each server's deadline */
  bool graced[MULTICOPY_SERVERS_MAX];
  struct connect_failure *why;
};

/* Which handles still negotiate, in fds (and their index in idx),
 * and when the next of their deadlines is, in *wake (-1: none).  A
 * server that takes N clients answers their handshakes together; one
 * that takes fewer (qemu-nbd -e) keeps the rest waiting for ever.  So
 * once one is up, the others of its server get a grace, not all of
 * connect-timeout.
 */
static unsigned
still_negotiating (struct round *r, struct pollfd *fds, unsigned *idx,
                   int64_t now, int64_t *wake)
{
  unsigned i, s, nfds = 0;

  *wake = -1;
  for (i = 0; i < r->wanted; ++i) {
    struct nbd_handle *nbd = r->pending[i];

    s = r->servers[i];
    if (nbd == NULL)
      continue;
    if (nbd_aio_is_ready (nbd)) {
      if (!r->graced[s]) {
        int64_t grace = now + HANDSHAKE_GRACE_MS + 2 * (now - r->start);
        r->graced[s] = true;
        if (grace < r->until[s])
          r->until[s] = grace;
      }
      continue;
    }
    if (nbd_aio_is_dead (nbd) || nbd_aio_is_closed (nbd)) {
      failed (&r->why[s], r->first + i, ECONNRESET,
              "the server closed the connection");
      nbd_close (nbd);
      r->pending[i] = NULL;
      continue;
    }
    if (now >= r->until[s])
      continue;                 /* given up on: dropped at the end */
    if (*wake == -1 || r->until[s] < *wake)
      *wake = r->until[s];
    fds[nfds].fd = nbd_aio_get_fd (nbd);
    fds[nfds].events = aio_poll_events (nbd);
    fds[nfds].revents = 0;
    idx[nfds++] = i;
  }
  return nfds;
}

/* The end of a round: keep the ready handles, in order, and close
 * those still negotiating, saying why for their server.
 */
static unsigned
keep_ready (struct round *r, struct nbd_handle **handles,
            unsigned *servers_out)
{
  unsigned i, s, ready = 0, stuck = 0;

  for (i = 0; i < r->wanted; ++i) {
    if (r->pending[i] == NULL)
      continue;
    if (nbd_aio_is_ready (r->pending[i])) {
      size_socket_buffers (r->pending[i]);
      servers_out[ready] = r->servers[i];
      handles[ready++] = r->pending[i];
      continue;
    }
    nbd_close (r->pending[i]);
    stuck++;
    s = r->servers[i];
    if (r->why[s].msg[0] == '\0') {
      r->why[s].err = ETIMEDOUT;
      snprintf (r->why[s].msg, sizeof r->why[s].msg,
                "no handshake finished within connect-timeout ("
                MS_FMT ")", MS_ARGS (config.connect_timeout_ms));
    }
  }
  if (stuck > 0)
    nbdkit_debug ("%u upstream handshake(s) did not finish in time", stuck);
  return ready;
}

int
upstream_connect (struct nbd_handle **handles, unsigned *servers_out,
                  const unsigned *servers, unsigned first, unsigned wanted,
                  int abort_fd, struct connect_failure *why)
{
  struct round r = {
    .servers = servers, .first = first, .wanted = wanted,
    .start = now_ms (), .why = why,
  };
  struct pollfd fds[MULTICOPY_CONNECTIONS_MAX + 1];
  unsigned idx[MULTICOPY_CONNECTIONS_MAX];
  unsigned i, s, nfds;

  for (s = 0; s < config.nr_servers; ++s) {
    why[s].err = 0;
    why[s].in_handshake = false;
    why[s].msg[0] = '\0';
    r.until[s] = r.start + config.connect_timeout_ms;
  }
  for (i = 0; i < wanted; ++i) {
    r.pending[i] = start_connect (first + i, servers[i], &why[servers[i]]);
    if (r.pending[i] == NULL) {
      /* Setup errors (a bad URI, say) are the same for every handle. */
      while (i-- > 0)
        nbd_close (r.pending[i]);
      return -1;
    }
  }

  for (;;) {
    int64_t now = now_ms (), wake;

    nfds = still_negotiating (&r, fds, idx, now, &wake);
    if (nfds == 0)
      break;
    fds[nfds] = (struct pollfd) { .fd = abort_fd, .events = POLLIN };
    if (poll (fds, nfds + 1, wake - now) == -1) {
      if (errno == EINTR)
        continue;
      failed (&why[servers[idx[0]]], first, errno, "poll failed");
      break;
    }
    if (fds[nfds].revents & POLLIN) {
      /* nbdkit is shutting down: nothing is kept. */
      for (i = 0; i < wanted; ++i)
        if (r.pending[i])
          nbd_close (r.pending[i]);
      for (s = 0; s < config.nr_servers; ++s) {
        why[s].err = ESHUTDOWN;
        snprintf (why[s].msg, sizeof why[s].msg, "nbdkit is shutting down");
      }
      return -1;
    }
    for (i = 0; i < nfds; ++i) {
      if (fds[i].revents != 0 &&
          aio_notify (r.pending[idx[i]], fds[i].revents) == -1)
        failed_in_handshake (&why[servers[idx[i]]], first + idx[i]);
    }
  }
  return keep_ready (&r, handles, servers_out);
}

/* Failures that waiting may mend: nobody listening yet, a server
 * going away or too busy to finish a handshake.  Not a bad URI, TLS
 * refused, an export that is not there.
 */
static bool
passing (const struct connect_failure *why)
{
  /* ENOENT in the handshake is NBD_REP_ERR_UNKNOWN: the server is up
   * and has no such export.
   */
  if (why->in_handshake && why->err == ENOENT)
    return false;
  switch (why->err) {
  case ENOENT: case ECONNREFUSED: case ECONNRESET: case ECONNABORTED:
  case EPIPE: case ENOTCONN: case EHOSTUNREACH: case ENETUNREACH:
  case ETIMEDOUT: case EAGAIN: case ESHUTDOWN:
    return true;
  default:
    return false;
  }
}

/* After a round at startup: the first server that has no connection
 * (the first one down is reported), or -1 if every server has one.
 * *mendable: whether waiting could help (not after a refusal).  After
 * a setup error only that server has a message.
 */
static int
first_down (int n, const unsigned *servers_out,
            const struct connect_failure *why, bool *mendable)
{
  unsigned count[MULTICOPY_SERVERS_MAX] = { 0 }, s;
  int down = -1;
  int i;

  *mendable = true;
  for (i = 0; i < n; ++i)
    count[servers_out[i]]++;
  for (s = config.nr_servers; s-- > 0; ) {
    if (count[s] == 0 && why[s].msg[0]) {
      down = s;
      *mendable &= passing (&why[s]);
    }
  }
  /* A round that failed before any handshake names no server. */
  if (n <= 0 && down == -1)
    down = 0;
  return down;
}

static void
report_gave_up (unsigned down, const struct connect_failure *why,
                bool mendable, int64_t start)
{
  /* A try that hangs in the handshake takes connect-timeout, which
   * may be longer than retry=.
   */
  if (config.retry_ms > 0 && mendable)
    nbdkit_error ("cannot connect to %s: %s (gave up after %.1f s: "
                  "retry=" MS_FMT ", each try up to connect-timeout="
                  MS_FMT ")", config_server_label (down), why[down].msg,
                  (now_ms () - start) / 1000.0,
                  MS_ARGS (config.retry_ms),
                  MS_ARGS (config.connect_timeout_ms));
  else
    nbdkit_error ("cannot connect to %s: %s",
                  config_server_label (down), why[down].msg);
}

int
upstream_connect_at_start (struct nbd_handle **handles, unsigned *servers_out)
{
  int64_t start = now_ms (), deadline = start + config.retry_ms;
  struct connect_failure why[MULTICOPY_SERVERS_MAX];
  unsigned servers[MULTICOPY_CONNECTIONS_MAX];
  int backoff = BACKOFF_FIRST_MS;
  bool waited = false;
  unsigned i;

  for (i = 0; i < config.connections; ++i)
    servers[i] = i % config.nr_servers;

  for (;;) {
    bool mendable;
    int64_t left, pause;
    int n = upstream_connect (handles, servers_out, servers, 0,
                              config.connections, -1, why);
    int down = first_down (n, servers_out, why, &mendable);

    if (down == -1) {
      if (waited)
        nbdkit_debug ("the upstream came up after %" PRIi64 " ms",
                      now_ms () - start);
      return n;
    }
    for (i = 0; n > 0 && i < (unsigned) n; ++i)
      nbd_close (handles[i]);

    left = deadline - now_ms ();
    if (left <= 0 || !mendable) {
      report_gave_up (down, why, mendable, start);
      return -1;
    }
    if (!waited)
      multicopy_warning ("cannot reach %s yet (%s); trying again for up "
                         "to retry=" MS_FMT,
                         config_server_label (down), why[down].msg,
                         MS_ARGS (config.retry_ms));
    waited = true;
    pause = left < backoff ? left : backoff;
    nanosleep (&(struct timespec) {
        .tv_sec = pause / 1000, .tv_nsec = pause % 1000 * 1000000 }, NULL);
    backoff = backoff_next (backoff);
  }
}
