/* nbdkit-multicopy filter: the nbdkit callbacks, in lifecycle order.
 *
 * The same segment ownership as the plugin, over N backend contexts of
 * whatever plugin is below: stripe i always goes to context i mod N.
 * Each client connection has its own N contexts; over nbdkit's nbd
 * plugin every context is its own upstream connection.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nbdkit-filter.h>

#include "contexts.h"
#include "fanout.h"
#include "params.h"

static unsigned connections = MULTICOPY_CONNECTIONS_DEFAULT;
static uint64_t segment_size = MULTICOPY_SEGMENT_SIZE_DEFAULT;
static bool parallel;           /* the final thread model is parallel */

struct handle {
  struct contexts cs;
  bool readonly;
};

static int
multicopy_config (nbdkit_next_config *next, nbdkit_backend *nxdata,
                  const char *key, const char *value)
{
  if (strcmp (key, "connections") == 0)
    return multicopy_parse_connections (value, &connections);
  if (strcmp (key, "segment-size") == 0)
    return multicopy_parse_segment_size (value, &segment_size);
  return next (nxdata, key, value);
}

#define multicopy_config_help MULTICOPY_PARAMS_HELP

static int
multicopy_get_ready (int thread_model)
{
  /* Such a plugin may have only one handle open at a time. */
  if (thread_model == NBDKIT_THREAD_MODEL_SERIALIZE_CONNECTIONS &&
      connections > 1) {
    nbdkit_error ("multicopy: the plugin's thread model is "
                  "serialize_connections, which allows one open handle at "
                  "a time, and connections=%u needs that many per client "
                  "connection", connections);
    return -1;
  }
  /* Calling contexts from our own threads bypasses nbdkit's locks, so
   * flush fans out in parallel only when nothing needs locking.
   */
  parallel = thread_model == NBDKIT_THREAD_MODEL_PARALLEL;
  return 0;
}

static void *
multicopy_open (nbdkit_next_open *next, nbdkit_context *nxdata,
                int readonly, const char *exportname, int is_tls)
{
  struct handle *h;

  if (next (nxdata, readonly, exportname) == -1)
    return NULL;
  h = calloc (1, sizeof *h);
  if (h == NULL) {
    nbdkit_error ("calloc: %m");
    return NULL;
  }
  h->readonly = readonly;
  if (contexts_open (&h->cs, nxdata, connections, readonly, exportname)
      == -1) {
    free (h);
    return NULL;
  }
  return h;
}

static int
multicopy_prepare (nbdkit_next *next, void *handle, int readonly)
{
  struct handle *h = handle;

  return contexts_prepare (&h->cs, next, segment_size);
}

static int
multicopy_finalize (nbdkit_next *next, void *handle)
{
  struct handle *h = handle;

  return contexts_finalize (&h->cs);
}

static void
multicopy_close (void *handle)
{
  struct handle *h = handle;

  contexts_close (&h->cs);
  free (h);
}

static int64_t
multicopy_get_size (nbdkit_next *next, void *handle)
{
  struct handle *h = handle;

  return h->cs.size;
}

static int
multicopy_block_size (nbdkit_next *next, void *handle,
                      uint32_t *minimum, uint32_t *preferred,
                      uint32_t *maximum)
{
  struct handle *h = handle;

  *minimum = h->cs.block_min;
  *preferred = h->cs.block_pref;
  *maximum = h->cs.block_max;
  return 0;
}

static int
multicopy_can_write (nbdkit_next *next, void *handle)
{
  struct handle *h = handle;

  return h->readonly ? 0 : h->cs.can_write;
}

static int
multicopy_can_flush (nbdkit_next *next, void *handle)
{
  struct handle *h = handle;

  return h->cs.can_flush;
}

static int
multicopy_is_rotational (nbdkit_next *next, void *handle)
{
  struct handle *h = handle;

  return h->cs.is_rotational;
}

static int
multicopy_can_trim (nbdkit_next *next, void *handle)
{
  struct handle *h = handle;

  return h->cs.can_trim;
}

static int
multicopy_can_zero (nbdkit_next *next, void *handle)
{
  struct handle *h = handle;

  return h->cs.can_zero;
}

static int
multicopy_can_fast_zero (nbdkit_next *next, void *handle)
{
  struct handle *h = handle;

  return h->cs.can_fast_zero;
}

static int
multicopy_can_extents (nbdkit_next *next, void *handle)
{
  struct handle *h = handle;

  return h->cs.can_extents;
}

/* FUA goes with every piece to its owner, which honours it natively or
 * by flushing itself: cheaper than a flush of every context.
 */
static int
multicopy_can_fua (nbdkit_next *next, void *handle)
{
  struct handle *h = handle;

  return h->cs.can_fua > NBDKIT_FUA_NONE ? NBDKIT_FUA_NATIVE : NBDKIT_FUA_NONE;
}

/* Another client connection has contexts of its own, so what it writes
 * is only seen here if the plugin is coherent across its handles.
 */
static int
multicopy_can_multi_conn (nbdkit_next *next, void *handle)
{
  struct handle *h = handle;

  return h->cs.can_multi_conn;
}

static int
multicopy_can_cache (nbdkit_next *next, void *handle)
{
  struct handle *h = handle;

  return h->cs.can_cache;
}

static int
multicopy_pread (nbdkit_next *next, void *handle, void *buf, uint32_t count,
                 uint64_t offset, uint32_t flags, int *err)
{
  struct handle *h = handle;

  return fanout_request (&h->cs, FANOUT_READ, buf, count, offset, flags, err);
}

static int
multicopy_pwrite (nbdkit_next *next, void *handle, const void *buf,
                  uint32_t count, uint64_t offset, uint32_t flags, int *err)
{
  struct handle *h = handle;

  return fanout_request (&h->cs, FANOUT_WRITE, (void *) buf, count, offset,
                         flags, err);
}

static int
multicopy_zero (nbdkit_next *next, void *handle, uint32_t count,
                uint64_t offset, uint32_t flags, int *err)
{
  struct handle *h = handle;

  return fanout_request (&h->cs, FANOUT_ZERO, NULL, count, offset, flags, err);
}

static int
multicopy_trim (nbdkit_next *next, void *handle, uint32_t count,
                uint64_t offset, uint32_t flags, int *err)
{
  struct handle *h = handle;

  return fanout_request (&h->cs, FANOUT_TRIM, NULL, count, offset, flags, err);
}

static int
multicopy_flush (nbdkit_next *next, void *handle, uint32_t flags, int *err)
{
  struct handle *h = handle;

  return fanout_flush (&h->cs, flags, parallel, err);
}

static int
multicopy_extents (nbdkit_next *next, void *handle, uint32_t count,
                   uint64_t offset, uint32_t flags,
                   struct nbdkit_extents *extents, int *err)
{
  struct handle *h = handle;

  return fanout_extents (&h->cs, count, offset, flags, extents, err);
}

static int
multicopy_cache (nbdkit_next *next, void *handle, uint32_t count,
                 uint64_t offset, uint32_t flags, int *err)
{
  struct handle *h = handle;

  return fanout_request (&h->cs, FANOUT_CACHE, NULL, count, offset, flags,
                         err);
}

static struct nbdkit_filter filter = {
  .name               = "multicopy",
  .longname           = "nbdkit multicopy filter",
  .config             = multicopy_config,
  .config_help        = multicopy_config_help,
  .get_ready          = multicopy_get_ready,
  .open               = multicopy_open,
  .prepare            = multicopy_prepare,
  .finalize           = multicopy_finalize,
  .close              = multicopy_close,
  .get_size           = multicopy_get_size,
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
