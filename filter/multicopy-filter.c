/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy filter: the nbdkit callbacks, in lifecycle order.
 *
 * The same segment ownership as the plugin, over N backend contexts of
 * whatever plugin is below: stripe i always goes to context i mod N.
 * One pool of N contexts serves every client connection (pool.c), so
 * that clients see each other's writes whatever the plugin is; over
 * nbdkit's nbd plugin every context is its own upstream connection.
 */

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-filter.h>

#include "below.h"
#include "client-losses.h"
#include "in-flight.h"
#include "log.h"
#include "params.h"
#include "pool.h"
#include "route.h"
#include "stats.h"

static unsigned connections = MULTICOPY_CONNECTIONS_DEFAULT;
static uint64_t segment_size = MULTICOPY_SEGMENT_SIZE_DEFAULT;
static unsigned max_in_flight;  /* 0: auto */

static void
multicopy_load (void)
{
  multicopy_log_init ();
}

static int
multicopy_config (nbdkit_next_config *next, nbdkit_backend *nxdata,
                  const char *key, const char *value)
{
  if (strcmp (key, "connections") == 0)
    return multicopy_param_once (key) == -1 ? -1 :
      multicopy_parse_connections (value, &connections);
  if (strcmp (key, "segment-size") == 0)
    return multicopy_param_once (key) == -1 ? -1 :
      multicopy_parse_segment_size (value, &segment_size);
  if (strcmp (key, "max-in-flight") == 0)
    return multicopy_param_once (key) == -1 ? -1 :
      multicopy_parse_max_in_flight (value, &max_in_flight);
  if (strcmp (key, "stats") == 0 || strcmp (key, "stats-format") == 0)
    return stats_config (key, value);
  below_config (key, value);
  return next (nxdata, key, value);
}

static int
multicopy_config_complete (nbdkit_next_config_complete *next,
                           nbdkit_backend *nxdata)
{
  if (below_check () == -1 || stats_config_complete () == -1)
    return -1;
  return next (nxdata);
}

#define multicopy_config_help MULTICOPY_FILTER_PARAMS_HELP "\n" \
  "stats=<FILE>         Write what each context carried to FILE, every\n" \
  "                     second of a copy and at exit.\n" \
  "stats-format=text|prometheus  The file's format (default text)."

static struct stats *
context_stats (unsigned i)
{
  return &pool.stats[i];
}

static struct stats_source stats_source = {
  .what = "filter", .label = "context", .get = context_stats,
  .in_flight = in_flight_figures,
};

static int
multicopy_get_ready (int thread_model)
{
  /* Such a plugin may have only one handle open at a time. */
  if (thread_model == NBDKIT_THREAD_MODEL_SERIALIZE_CONNECTIONS &&
      connections > 1) {
    nbdkit_error ("multicopy: the plugin's thread model is "
                  "serialize_connections, which allows one open handle at "
                  "a time, and connections=%u needs that many",
                  connections);
    return -1;
  }
  /* Calling contexts from our own threads bypasses nbdkit's locks, so
   * flush fans out in parallel only when nothing needs locking.  Below
   * parallel, nbdkit's per-connection locks do not keep two clients
   * apart in one shared context: the pool locks each context.
   */
  pool_set_locking (thread_model != NBDKIT_THREAD_MODEL_PARALLEL);
  in_flight_init (connections, NULL, max_in_flight);
  return 0;
}

/* Per client connection: the losses it has been told of
 * (client-losses.h).
 */
struct handle {
  struct client_losses losses;
};

static int
multicopy_after_fork (nbdkit_backend *backend)
{
  stats_source.nr = connections;
  return stats_start (&stats_source);
}

static void
multicopy_cleanup (nbdkit_backend *backend)
{
  pool_exit ();
  stats_stop ();
  stats_debug (&stats_source);
}

static void *
multicopy_open (nbdkit_next_open *next, nbdkit_context *nxdata,
                int readonly, const char *exportname, int is_tls)
{
  struct handle *h = malloc (sizeof *h);

  if (h == NULL) {
    nbdkit_error ("malloc: %m");
    return NULL;
  }
  /* No next (): a context of its own per client would be an idle
   * upstream connection.  Requests go to the pool's contexts.
   */
  if (pool_join (nxdata, connections, segment_size, readonly, exportname)
      == -1) {
    free (h);
    return NULL;
  }
  client_losses_init (&h->losses, &pool.losses);
  return h;
}

static void
multicopy_close (void *handle)
{
  pool_leave ();
  free (handle);
}

static int64_t
multicopy_get_size (nbdkit_next *next, void *handle)
{
  return pool.caps.size;
}

/* Without next () in .open, nothing may fall through to a context of
 * this connection: every callback that would is here.
 */
static const char *
multicopy_export_description (nbdkit_next *next, void *handle)
{
  nbdkit_next *c = pool.ctx[0];
  const char *r;

  pool_ctx_lock (0);
  r = c->export_description (c);
  pool_ctx_unlock (0);
  return r;
}

static int
multicopy_block_size (nbdkit_next *next, void *handle,
                      uint32_t *minimum, uint32_t *preferred,
                      uint32_t *maximum)
{
  *minimum = pool.caps.blocks.min;
  *preferred = pool.caps.blocks.pref;
  *maximum = pool.caps.blocks.max;
  return 0;
}

/* Contexts opened read-only say so themselves (and every client asks
 * for what the pool was opened with).
 */
static int
multicopy_can_write (nbdkit_next *next, void *handle)
{
  return pool.caps.can_write;
}

static int
multicopy_can_flush (nbdkit_next *next, void *handle)
{
  return pool.caps.can_flush;
}

static int
multicopy_is_rotational (nbdkit_next *next, void *handle)
{
  return pool.caps.is_rotational;
}

static int
multicopy_can_trim (nbdkit_next *next, void *handle)
{
  return pool.caps.can_trim;
}

static int
multicopy_can_zero (nbdkit_next *next, void *handle)
{
  return pool.caps.can_zero;
}

static int
multicopy_can_fast_zero (nbdkit_next *next, void *handle)
{
  return pool.caps.can_fast_zero;
}

static int
multicopy_can_extents (nbdkit_next *next, void *handle)
{
  return pool.caps.can_extents;
}

/* FUA goes with every piece to its owner, which honours it natively or
 * by flushing itself: cheaper than a flush of every context.
 */
static int
multicopy_can_fua (nbdkit_next *next, void *handle)
{
  return pool.caps.can_fua > NBDKIT_FUA_NONE ? NBDKIT_FUA_NATIVE : NBDKIT_FUA_NONE;
}

/* Every client goes through the same contexts, each byte through one
 * of them, and a flush reaches them all: what one client has written
 * is seen by every other, and a flush on any makes it durable.
 */
static int
multicopy_can_multi_conn (nbdkit_next *next, void *handle)
{
  return 1;
}

static int
multicopy_can_cache (nbdkit_next *next, void *handle)
{
  return pool.caps.can_cache;
}

static int
multicopy_pread (nbdkit_next *next, void *handle, void *buf, uint32_t count,
                 uint64_t offset, uint32_t flags, int *err)
{
  return route_request (ROUTE_READ, buf, count, offset, flags, err);
}

/* Before a write, zero or trim: a loss since this client last heard
 * fails it (client-losses.h).
 */
static int
told_by_write (struct handle *h, int *err)
{
  return client_losses_before_write (&h->losses, &pool.losses, err);
}

static int
multicopy_pwrite (nbdkit_next *next, void *handle, const void *buf,
                  uint32_t count, uint64_t offset, uint32_t flags, int *err)
{
  if (told_by_write (handle, err) == -1)
    return -1;
  return route_request (ROUTE_WRITE, (void *) buf, count, offset,
                         flags, err);
}

static int
multicopy_zero (nbdkit_next *next, void *handle, uint32_t count,
                uint64_t offset, uint32_t flags, int *err)
{
  if (told_by_write (handle, err) == -1)
    return -1;
  return route_request (ROUTE_ZERO, NULL, count, offset, flags, err);
}

static int
multicopy_trim (nbdkit_next *next, void *handle, uint32_t count,
                uint64_t offset, uint32_t flags, int *err)
{
  if (told_by_write (handle, err) == -1)
    return -1;
  return route_request (ROUTE_TRIM, NULL, count, offset, flags, err);
}

/* A flush that failed for one client may have lost writes of every
 * client: each is told at its next flush (client-losses.h).
 */
static int
multicopy_flush (nbdkit_next *next, void *handle, uint32_t flags, int *err)
{
  struct handle *h = handle;

  return client_losses_after_flush (&h->losses, &pool.losses,
                                    pool_flush (flags, err), err);
}

static int
multicopy_extents (nbdkit_next *next, void *handle, uint32_t count,
                   uint64_t offset, uint32_t flags,
                   struct nbdkit_extents *extents, int *err)
{
  return route_extents (count, offset, flags, extents, err);
}

static int
multicopy_cache (nbdkit_next *next, void *handle, uint32_t count,
                 uint64_t offset, uint32_t flags, int *err)
{
  return route_request (ROUTE_CACHE, NULL, count, offset, flags,
                         err);
}

static struct nbdkit_filter filter = {
  .name               = "multicopy",
  /* nbdkit 1.32 prints its own version for every filter in --version
   * (a filter is built for exactly one nbdkit): ours goes here, in --help.
   */
  .longname           = "nbdkit multicopy filter " PACKAGE_VERSION,
  .load               = multicopy_load,
  .config             = multicopy_config,
  .config_complete    = multicopy_config_complete,
  .config_help        = multicopy_config_help,
  .get_ready          = multicopy_get_ready,
  .after_fork         = multicopy_after_fork,
  .cleanup            = multicopy_cleanup,
  .open               = multicopy_open,
  .close              = multicopy_close,
  .get_size           = multicopy_get_size,
  .export_description = multicopy_export_description,
  .block_size         = multicopy_block_size,
  .can_write          = multicopy_can_write,
  .can_flush          = multicopy_can_flush,
  .is_rotational      = multicopy_is_rotational,
  .can_trim           = multicopy_can_trim,
  .can_zero           = multicopy_can_zero,
  .can_fast_zero      = multicopy_can_fast_zero,
  .can_extents        = multicopy_can_extents,
  .can_fua            = multicopy_can_fua,
  .can_multi_conn     = multicopy_can_multi_conn,
  .can_cache          = multicopy_can_cache,
  .pread              = multicopy_pread,
  .pwrite             = multicopy_pwrite,
  .zero               = multicopy_zero,
  .trim               = multicopy_trim,
  .flush              = multicopy_flush,
  .extents            = multicopy_extents,
  .cache              = multicopy_cache,
};

NBDKIT_REGISTER_FILTER (filter)
