/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: the pool's lifecycle.
 *
 * Connections open in .get_ready, while nbdkit can still print an
 * error and exit before serving anyone; libnbd starts no threads, so
 * they survive nbdkit's fork.  The I/O threads start in .after_fork.
 * At exit (after flush.c's flush of what clients left unflushed) the
 * disconnects are bounded: an upstream that stopped answering cannot
 * keep nbdkit from exiting.
 */

#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <libnbd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "log.h"
#include "caps.h"
#include "config.h"
#include "connect.h"
#include "in-flight.h"
#include "io-thread.h"
#include "kick.h"
#include "params.h"
#include "replay.h"
#include "reply-reader.h"
#include "pool.h"
#include "shutdown.h"
#include "stats.h"
#include "stripe-choice.h"
#include "upstream.h"

struct pool pool;

static int
init_upstream (unsigned i, struct nbd_handle *nbd, void *probe_buf,
               uint64_t log_start, uint64_t log_share)
{
  struct upstream *u = &pool.conn[i];
  uint64_t stripe = (uint64_t) i * config.segment_size;

  pthread_rwlock_init (&u->handle_lock, NULL);
  u->nbd = nbd;
  u->fd = nbd_aio_get_fd (nbd);
  atomic_init (&u->multi_conn, nbd_can_multi_conn (nbd) == 1);
  atomic_init (&u->gen, 0);
  atomic_init (&u->leaving, false);
  pthread_mutex_init (&u->state_lock, NULL);
  pthread_cond_init (&u->up_cond, NULL);
  u->up = true;
  u->index = i;
  /* Before any I/O thread starts, since each may kick the others. */
  u->kick_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (u->kick_fd == -1) {
    nbdkit_error ("eventfd: %m");
    return -1;
  }
  atomic_init (&u->stopping, false);
  atomic_init (&u->probe_now, false);
  atomic_init (&u->probing, false);
  atomic_init (&u->heard_goodbye, false);
  atomic_init (&u->to_reader, false);
  /* The start of its first stripe; a connection that owns none (a
   * disk smaller than N stripes) reads the start of the disk.
   */
  u->probe_offset = stripe + pool.probe_len <= (uint64_t) pool.caps.size ?
    stripe : 0;
  u->probe_buf = probe_buf;
  dirty_init (&u->dirty);
  atomic_init (&u->lost_gen, 0);
  atomic_init (&u->exit_flush_sent, false);
  atomic_init (&u->exit_flush_err, -1);
  replay_init (u, log_share ? log_start : 0, log_share);
  return 0;
}

/* What all the connections can do together (export-caps.h); errors
 * name the connection, and its server when there are several.
 */
static int
merge_caps (struct nbd_handle **handles, const unsigned *servers, int n)
{
  char first[600], name[600];
  struct export_caps c;
  int i;

  config_connection_name (first, sizeof first, 0, servers[0]);
  for (i = 0; i < n; ++i) {
    config_connection_name (name, sizeof name, i, servers[i]);
    if (caps_read (name, handles[i], &c) == -1 ||
        export_caps_merge (&pool.caps, &c, i == 0, name, first) == -1)
      return -1;
  }
  return 0;
}

/* ", 2 to each of 3 servers" (or ", to 2 servers: 3, 2"): how the
 * connections that came up are spread.  Empty with one server.
 */
static const char *
spread (const unsigned *servers, int n)
{
  static char text[512];
  unsigned count[MULTICOPY_SERVERS_MAX] = { 0 }, s;
  size_t len;
  bool even = true;
  int i;

  if (config.nr_servers == 1)
    return "";
  for (i = 0; i < n; ++i)
    count[servers[i]]++;
  for (s = 1; s < config.nr_servers; ++s)
    even &= count[s] == count[0];
  if (even) {
    snprintf (text, sizeof text, ", %u to each of %u servers", count[0],
              config.nr_servers);
    return text;
  }
  len = snprintf (text, sizeof text, ", to %u servers:", config.nr_servers);
  for (s = 0; s < config.nr_servers && len < sizeof text; ++s)
    len += snprintf (text + len, sizeof text - len, "%s %u",
                     s ? "," : "", count[s]);
  return text;
}

/* Each connection's part of replay-buffer=: at least two of the
 * largest pieces, else an explicit value is refused and the default
 * grows.
 */
static int
replay_share (int n, uint64_t *start, uint64_t *share)
{
  uint64_t largest = config.segment_size < pool.max_payload ?
    config.segment_size : pool.max_payload;
  uint64_t least = replay_share_min (largest);

  *start = replay_entry_size (largest);
  *share = config.replay_buffer / n;
  if (config.replay_buffer == 0 || *share >= least)
    return 0;
  if (config.replay_buffer_given) {
    nbdkit_error ("replay-buffer=%" PRIu64 " is too small: each of the %d "
                  "connections needs room for two of its largest pieces "
                  "(%" PRIu64 " bytes), so at least %" PRIu64 " in all "
                  "(or 0, to turn replay off)", config.replay_buffer, n,
                  largest, least * n);
    return -1;
  }
  nbdkit_debug ("replay-buffer: the default is too small for %d "
                "connections of pieces up to %" PRIu64 " bytes: using %"
                PRIu64 " in all", n, largest, least * n);
  *share = least;
  return 0;
}

/* The startup line's word on replay. */
static const char *
replay_said (int n, uint64_t share)
{
  static char text[128];

  if (share == 0)
    return "no replay log (replay-buffer=0)";
  snprintf (text, sizeof text, "replay logs of up to %" PRIu64 " MiB in "
            "all", share * n >> 20);
  return text;
}

/* How large the pieces sent upstream may be, from what the
 * connections accept together.
 */
static void
size_pieces (void)
{
  pool.max_payload = MULTICOPY_DEFAULT_MAX_PAYLOAD;
  if (pool.caps.blocks.max && pool.caps.blocks.max < pool.max_payload)
    pool.max_payload = pool.caps.blocks.max;
  pool.max_command = pool.caps.blocks.max;
  pool.probe_len = pool.caps.blocks.min ? pool.caps.blocks.min : 1;
  if ((uint64_t) pool.caps.size < pool.probe_len)
    pool.probe_len = 0;         /* nothing to read: probes cannot run */
}

/* The round trip, timed when nothing is written yet, chooses the
 * stripe (segment-size= not given) and, connections= not given, may
 * keep fewer of the n handles (stripe-choice.h): the others say
 * goodbye and close.  No probe when neither choice is left to make.
 * Returns how many are kept.
 */
static int
choose_from_round_trip (struct nbd_handle **handles, int n,
                        char *stripe_why, size_t stripe_len,
                        char *conns_why, size_t conns_len)
{
  char probe_failed[96];
  bool multi_conn = true, shrink;
  int64_t rtt;
  int i, keep = n;

  for (i = 0; i < n; ++i)
    multi_conn &= nbd_can_multi_conn (handles[i]) == 1;
  shrink = !config.connections_given &&
    connections_may_shrink (n, multi_conn, config.nr_servers);
  if (config.segment_size_given && !shrink)
    return n;

  rtt = upstream_round_trip (handles, n, pool.probe_len,
                             probe_failed, sizeof probe_failed);
  if (!config.segment_size_given)
    stripe_choose (rtt, probe_failed, multi_conn, &config.segment_size,
                   stripe_why, stripe_len);
  if (shrink)
    keep = connections_choose (n, rtt, multi_conn, config.nr_servers,
                               conns_why, conns_len);
  for (i = keep; i < n; ++i) {
    nbd_aio_disconnect (handles[i], 0);
    nbd_close (handles[i]);
  }
  return keep;
}

/* The startup lines: what came up and how it is used. */
static void
say_what_is_up (int came_up, int n, const unsigned *servers,
                uint64_t log_share, const char *stripe_why,
                const char *conns_why)
{
  unsigned i;

  if ((unsigned) came_up < config.connections) {
    multicopy_warning ("only %d of %u upstream connections came up, the "
                       "others still in their handshake well after; going "
                       "on with %d (does the upstream limit connections, "
                       "like qemu-nbd without -e?)",
                       came_up, config.connections, n);
    nbdkit_debug ("using %d of %u upstream connections",
                  n, config.connections);
  }
  /* Said without -v too: the one line that tells what is in use. */
  multicopy_notice ("%d upstream connection%s up%s%s%s%s, stripes of %"
                    PRIu64 " bytes (%s), %" PRIi64 " bytes in all, %s",
                    n, n == 1 ? "" : "s", spread (servers, n),
                    *conns_why ? " (" : "", conns_why,
                    *conns_why ? ")" : "",
                    config.segment_size,
                    stripe_why,
                    pool.caps.size, replay_said (n, log_share));
  for (i = 0; i < (unsigned) n; ++i)
    nbdkit_debug ("upstream connection %u: %s", i,
                  config.servers[servers[i]].name);
  nbdkit_debug ("upstream: %d connections, size %" PRIi64
                ", block size %" PRIu32 "/%" PRIu32 "/%" PRIu32
                ", stripe %" PRIu64,
                n, pool.caps.size, pool.caps.blocks.min,
                pool.caps.blocks.pref, pool.caps.blocks.max,
                config.segment_size);
}

int
pool_open (void)
{
  struct nbd_handle *handles[MULTICOPY_CONNECTIONS_MAX];
  unsigned servers[MULTICOPY_CONNECTIONS_MAX];
  char *probe_bufs = NULL;
  char stripe_why[160] = "as segment-size= asks", conns_why[192] = "";
  uint64_t log_start, log_share;
  unsigned i;
  int n, came_up;

  n = came_up = upstream_connect_at_start (handles, servers);
  if (n == -1)
    return -1;

  if (merge_caps (handles, servers, n) == -1)
    goto err;
  pool.description = nbd_get_export_description (handles[0]);
  size_pieces ();
  n = choose_from_round_trip (handles, n, stripe_why, sizeof stripe_why,
                              conns_why, sizeof conns_why);

  if (multicopy_check_block_size (config.segment_size,
                                  pool.caps.blocks.min,
                                  pool.caps.blocks.pref, "upstream") == -1)
    goto err;

  if (replay_share (n, &log_start, &log_share) == -1)
    goto err;

  pool.conn = calloc (n, sizeof *pool.conn);
  probe_bufs = malloc ((size_t) n * (pool.probe_len ? pool.probe_len : 1));
  if (pool.conn == NULL || probe_bufs == NULL) {
    nbdkit_error ("calloc: %m");
    goto err;
  }
  for (i = 0; i < (unsigned) n; ++i) {
    pool.conn[i].server = servers[i];
    if (init_upstream (i, handles[i],
                       probe_bufs + (size_t) i * pool.probe_len,
                       log_start, log_share) == -1) {
      while (i-- > 0) {
        close (pool.conn[i].kick_fd);
        replay_free (&pool.conn[i]);
      }
      goto err;
    }
  }
  pool.nr = n;
  /* config.c checked segment-size=; n is at least 1 here. */
  if (stripe_map_init (&pool.map, config.segment_size, n) == -1)
    abort ();
  in_flight_init (n, servers, config.max_in_flight);

  say_what_is_up (came_up, n, servers, log_share, stripe_why, conns_why);
  return 0;

 err:
  for (i = 0; i < (unsigned) n; ++i)
    nbd_close (handles[i]);
  free (pool.conn);
  pool.conn = NULL;
  free (probe_bufs);
  free (pool.description);
  pool.description = NULL;
  return -1;
}

static struct stats *
conn_stats (unsigned i)
{
  return &pool.conn[i].stats;
}

static unsigned
conn_server (unsigned i)
{
  return pool.conn[i].server;
}

static const char *
server_name (unsigned s)
{
  return config.servers[s].name;
}

static struct stats_source stats_source = {
  .what = "plugin", .label = "connection", .get = conn_stats,
  .has_reconnects = 1, .has_replay = 1, .server_of = conn_server, .server_name = server_name,
  .in_flight = in_flight_figures,
};

int
pool_start (void)
{
  unsigned i;

  stats_source.nr = pool.nr;
  stats_source.nr_servers = config.nr_servers;
  if (shutdown_watch_start () == -1 || stats_start (&stats_source) == -1)
    return -1;
  for (i = 0; i < pool.nr; ++i)
    if (replay_alloc (&pool.conn[i]) == -1)
      return -1;
  /* The readers first: an I/O thread hands its replies over as soon
   * as it runs.
   */
  if (reply_readers_start () == -1)
    return -1;
  for (i = 0; i < pool.nr; ++i)
    if (io_thread_start (&pool.conn[i]) == -1)
      return -1;
  return 0;
}

void
pool_close (void)
{
  unsigned i;

  if (pool.conn == NULL)
    return;

  /* The I/O threads own the handles: they send the disconnects, each
   * bounded, all at once.
   */
  stats_stop ();
  stats_debug (&stats_source);
  for (i = 0; i < pool.nr; ++i) {
    atomic_store (&pool.conn[i].stopping, true);
    if (pool.conn[i].io_thread_started)
      io_thread_kick (&pool.conn[i]);
  }
  for (i = 0; i < pool.nr; ++i)
    io_thread_stop (&pool.conn[i]);
  /* Each I/O thread took its replies back before it ended. */
  reply_readers_stop ();
  for (i = 0; i < pool.nr; ++i) {
    struct upstream *u = &pool.conn[i];

    nbd_close (u->nbd);
    if (u->kick_fd >= 0)
      close (u->kick_fd);
  }
  /* Only once every handle is closed: the completion of an internal
   * flush on one connection may reach the logs of others (replay.c).
   */
  for (i = 0; i < pool.nr; ++i) {
    struct upstream *u = &pool.conn[i];

    pthread_rwlock_destroy (&u->handle_lock);
    replay_free (u);
    pthread_mutex_destroy (&u->state_lock);
    pthread_cond_destroy (&u->up_cond);
  }
  shutdown_watch_end ();
  free (pool.conn[0].probe_buf);
  free (pool.conn);
  pool.conn = NULL;
  pool.nr = 0;
  free (pool.description);
  pool.description = NULL;
}
