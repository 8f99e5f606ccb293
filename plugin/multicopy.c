/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: the nbdkit callbacks, in lifecycle order.
 *
 * A destination NBD export that fans every request out over N
 * upstream connections by segment ownership: stripe i of the disk
 * always travels on connection i mod N, so the upstream sees each byte
 * on one connection only, as a single-connection client would use it.
 * See nbdkit-multicopy.pod for the safety argument.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <libnbd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "client-losses.h"
#include "config.h"
#include "flow-limit.h"
#include "flush.h"
#include "log.h"
#include "losses.h"
#include "params.h"
#include "pool.h"
#include "route.h"
#include "shutdown.h"
#include "stripe-choice.h"
#include "upstream.h"

/* Per client connection: whether it may write, and the losses of
 * acknowledged writes it has been told of (client-losses.h).
 */
struct handle {
  bool readonly;
  struct client_losses losses;
};

static void
multicopy_load (void)
{
  multicopy_log_init ();
}

static void
multicopy_unload (void)
{
  config_free ();
}

static int
multicopy_config (const char *key, const char *value)
{
  return config_key (key, value);
}

static int
multicopy_config_complete (void)
{
  return config_finish ();
}

#define multicopy_config_help config_help_text MULTICOPY_PLUGIN_PARAMS_HELP

static void
multicopy_dump_plugin (void)
{
  struct nbd_handle *nbd = nbd_create ();

  if (nbd) {
    printf ("libnbd_version=%s\n", nbd_get_version (nbd));
    printf ("libnbd_tls=%d\n", nbd_supports_tls (nbd));
    printf ("libnbd_uri=%d\n", nbd_supports_uri (nbd));
    printf ("libnbd_vsock=1\n");
    nbd_close (nbd);
  }
  printf ("multicopy_connections_default=%d\n",
          MULTICOPY_CONNECTIONS_DEFAULT);
  printf ("multicopy_connections_near=%d\n", NEAR_CONNECTIONS);
  printf ("multicopy_connections_min=1\n");
  printf ("multicopy_connections_max=%d\n", MULTICOPY_CONNECTIONS_MAX);
  printf ("multicopy_segment_size_default=%" PRIu64 "\n",
          MULTICOPY_SEGMENT_SIZE_DEFAULT);
  printf ("multicopy_segment_size_far=%" PRIu64 "\n", STRIPE_FAR_SIZE);
  printf ("multicopy_segment_size_far_rtt_us=%d\n", STRIPE_FAR_RTT_US);
  printf ("multicopy_segment_size_near_single=%" PRIu64 "\n",
          STRIPE_NEAR_SINGLE_SIZE);
  printf ("multicopy_segment_size_min=%" PRIu64 "\n",
          MULTICOPY_SEGMENT_SIZE_MIN);
  printf ("multicopy_segment_size_max=%" PRIu64 "\n",
          MULTICOPY_SEGMENT_SIZE_MAX);
  printf ("multicopy_max_in_flight_default=auto\n");
  printf ("multicopy_max_in_flight_max=%d\n", FLOW_MAX);
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static int
multicopy_get_ready (void)
{
  return pool_open ();
}

static int
multicopy_after_fork (void)
{
  return pool_start ();
}

/* Each step bounded by shutdown-timeout, whatever the upstream does. */
static void
multicopy_cleanup (void)
{
  shutdown_begin ();            /* nothing reconnects or waits for it */
  flush_at_exit ();             /* what clients left unflushed */
  pool_close ();
}

static void *
multicopy_open (int readonly)
{
  struct handle *h = malloc (sizeof *h);

  if (h == NULL) {
    nbdkit_error ("malloc: %m");
    return NULL;
  }
  h->readonly = readonly;
  client_losses_init (&h->losses, losses_errseq ());
  return h;
}

static void
multicopy_close (void *handle)
{
  free (handle);
}

static int64_t
multicopy_get_size (void *handle)
{
  return pool.caps.size;
}

static const char *
multicopy_export_description (void *handle)
{
  return pool.description;
}

static int
multicopy_block_size (void *handle,
                      uint32_t *minimum, uint32_t *preferred,
                      uint32_t *maximum)
{
  *minimum = pool.caps.blocks.min;
  *preferred = pool.caps.blocks.pref;
  *maximum = pool.caps.blocks.max;
  return 0;
}

static int
multicopy_can_write (void *handle)
{
  struct handle *h = handle;

  return !h->readonly && pool.caps.can_write;
}

static int
multicopy_can_flush (void *handle)
{
  return pool.caps.can_flush;
}

static int
multicopy_is_rotational (void *handle)
{
  return pool.caps.is_rotational;
}

static int
multicopy_can_trim (void *handle)
{
  return pool.caps.can_trim;
}

static int
multicopy_can_zero (void *handle)
{
  return pool.caps.can_zero;
}

static int
multicopy_can_fast_zero (void *handle)
{
  return pool.caps.can_fast_zero;
}

/* FUA goes on every piece, so each owner makes its own part durable.
 * Without it upstream, nbdkit follows the write with our flush.
 */
static int
multicopy_can_fua (void *handle)
{
  if (pool.caps.can_fua)
    return NBDKIT_FUA_NATIVE;
  return pool.caps.can_flush ? NBDKIT_FUA_EMULATE : NBDKIT_FUA_NONE;
}

/* Sound whatever the upstream says: all clients share one pool and
 * one ownership map, so every client reads a byte through the same
 * connection that wrote it, and a flush from any client reaches every
 * connection that holds unflushed writes.
 */
static int
multicopy_can_multi_conn (void *handle)
{
  return 1;
}

static int
multicopy_can_extents (void *handle)
{
  return pool.caps.can_extents;
}

static int
multicopy_can_cache (void *handle)
{
  return pool.caps.can_cache ? NBDKIT_CACHE_NATIVE : NBDKIT_CACHE_NONE;
}

static int
multicopy_pread (void *handle, void *buf, uint32_t count, uint64_t offset,
                 uint32_t flags)
{
  return route_request (ROUTE_READ, buf, count, offset, 0);
}

/* Before a write, zero or trim: a loss since this client last heard
 * fails it (client-losses.h).
 */
static int
told_by_write (struct handle *h)
{
  int err;

  if (client_losses_before_write (&h->losses, losses_errseq (), &err) == 0)
    return 0;
  nbdkit_set_error (err);
  return -1;
}

static int
multicopy_pwrite (void *handle, const void *buf, uint32_t count,
                  uint64_t offset, uint32_t flags)
{
  uint32_t lflags = (flags & NBDKIT_FLAG_FUA) ? LIBNBD_CMD_FLAG_FUA : 0;

  if (told_by_write (handle) == -1)
    return -1;
  return route_request (ROUTE_WRITE, (void *) buf, count, offset, lflags);
}

static int
multicopy_zero (void *handle, uint32_t count, uint64_t offset,
                uint32_t flags)
{
  uint32_t lflags = 0;

  if (!(flags & NBDKIT_FLAG_MAY_TRIM))
    lflags |= LIBNBD_CMD_FLAG_NO_HOLE;
  if (flags & NBDKIT_FLAG_FUA)
    lflags |= LIBNBD_CMD_FLAG_FUA;
  if (flags & NBDKIT_FLAG_FAST_ZERO)
    lflags |= LIBNBD_CMD_FLAG_FAST_ZERO;
  if (told_by_write (handle) == -1)
    return -1;
  return route_request (ROUTE_ZERO, NULL, count, offset, lflags);
}

static int
multicopy_trim (void *handle, uint32_t count, uint64_t offset,
                uint32_t flags)
{
  uint32_t lflags = (flags & NBDKIT_FLAG_FUA) ? LIBNBD_CMD_FLAG_FUA : 0;

  if (told_by_write (handle) == -1)
    return -1;
  return route_request (ROUTE_TRIM, NULL, count, offset, lflags);
}

/* The upstream flushes first, so that a loss during them counts. */
static int
multicopy_flush (void *handle, uint32_t flags)
{
  struct handle *h = handle;
  int err = 0;

  if (client_losses_after_flush (&h->losses, losses_errseq (),
                                 flush_dirty (), &err) == 0)
    return 0;
  /* Failed for a loss; else flush_dirty has set the error. */
  if (err)
    nbdkit_set_error (err);
  return -1;
}

static int
multicopy_extents (void *handle, uint32_t count, uint64_t offset,
                   uint32_t flags, struct nbdkit_extents *extents)
{
  uint32_t lflags =
    (flags & NBDKIT_FLAG_REQ_ONE) ? LIBNBD_CMD_FLAG_REQ_ONE : 0;

  return route_extents (count, offset, lflags, extents);
}

static int
multicopy_cache (void *handle, uint32_t count, uint64_t offset,
                 uint32_t flags)
{
  return route_request (ROUTE_CACHE, NULL, count, offset, 0);
}

static struct nbdkit_plugin plugin = {
  .name               = "multicopy",
  .longname           = "nbdkit multicopy plugin",
  .version            = PACKAGE_VERSION,
  .description        = "fan requests out over N upstream NBD connections "
                        "by segment ownership",
  .load               = multicopy_load,
  .unload             = multicopy_unload,
  .config             = multicopy_config,
  .config_complete    = multicopy_config_complete,
  .config_help        = multicopy_config_help,
  .magic_config_key   = "uri",
  .dump_plugin        = multicopy_dump_plugin,
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
  .can_fua            = multicopy_can_fua,
  .can_multi_conn     = multicopy_can_multi_conn,
  .can_extents        = multicopy_can_extents,
  .can_cache          = multicopy_can_cache,
  .pread              = multicopy_pread,
  .pwrite             = multicopy_pwrite,
  .zero               = multicopy_zero,
  .trim               = multicopy_trim,
  .flush              = multicopy_flush,
  .extents            = multicopy_extents,
  .cache              = multicopy_cache,
};

NBDKIT_REGISTER_PLUGIN (plugin)
