/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: reading and merging what the upstream
 * connections can do, when the pool opens and when one reconnects.
 */

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libnbd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "caps.h"

/* The libnbd answers are -1 on error; an error counts as "cannot". */
static int
read_caps (unsigned i, struct nbd_handle *nbd, struct upstream_caps *c)
{
  int64_t min, pref, max;

  c->size = nbd_get_size (nbd);
  min = nbd_get_block_size (nbd, LIBNBD_SIZE_MINIMUM);
  pref = nbd_get_block_size (nbd, LIBNBD_SIZE_PREFERRED);
  max = nbd_get_block_size (nbd, LIBNBD_SIZE_MAXIMUM);
  if (c->size == -1 || min == -1 || pref == -1 || max == -1) {
    nbdkit_error ("upstream connection %u: %s", i, nbd_get_error ());
    return -1;
  }
  /* A partial answer is no answer (as nbdkit's nbd plugin treats it). */
  if (min == 0 || pref == 0 || max == 0 || max > UINT32_MAX)
    min = pref = max = 0;
  c->blocks.min = min;
  c->blocks.pref = pref;
  c->blocks.max = max;

  c->can_write = nbd_is_read_only (nbd) == 0;
  c->can_flush = nbd_can_flush (nbd) == 1;
  c->can_fua = nbd_can_fua (nbd) == 1;
  c->can_trim = nbd_can_trim (nbd) == 1;
  c->can_zero = nbd_can_zero (nbd) == 1;
  c->can_fast_zero = nbd_can_fast_zero (nbd) == 1;
  c->can_cache = nbd_can_cache (nbd) == 1;
  c->can_extents =
    nbd_can_meta_context (nbd, LIBNBD_CONTEXT_BASE_ALLOCATION) == 1;
  c->is_rotational = nbd_is_rotational (nbd) == 1;
  c->can_multi_conn = nbd_can_multi_conn (nbd) == 1;
  c->description = NULL;
  return 0;
}

int
caps_merge (unsigned i, struct nbd_handle *nbd, struct upstream_caps *all)
{
  struct upstream_caps c;

  if (read_caps (i, nbd, i == 0 ? all : &c) == -1)
    return -1;
  if (i == 0)
    return 0;

  if (c.size != all->size) {
    nbdkit_error ("upstream connection %u reports size %" PRIi64
                  ", connection 0 reports %" PRIi64
                  ": are they the same export?", i, c.size, all->size);
    return -1;
  }
  all->can_write &= c.can_write;
  all->can_flush &= c.can_flush;
  all->can_fua &= c.can_fua;
  all->can_trim &= c.can_trim;
  all->can_zero &= c.can_zero;
  all->can_fast_zero &= c.can_fast_zero;
  all->can_cache &= c.can_cache;
  all->can_extents &= c.can_extents;
  all->can_multi_conn &= c.can_multi_conn;
  all->is_rotational |= c.is_rotational;
  block_size_merge (&all->blocks, &c.blocks);
  return 0;
}

int
caps_check_reconnected (unsigned i, struct nbd_handle *nbd,
                        const struct upstream_caps *all,
                        uint64_t max_payload)
{
  struct upstream_caps c;

  if (read_caps (i, nbd, &c) == -1)
    return -1;
  if (c.size != all->size) {
    nbdkit_error ("upstream connection %u reconnected to an export of size %"
                  PRIi64 ", not %" PRIi64 ": refusing it", i, c.size,
                  all->size);
    return -1;
  }
  /* Clients were told the pool can do these: it still must. */
  if ((all->can_write && !c.can_write) || (all->can_flush && !c.can_flush) ||
      (all->can_fua && !c.can_fua) || (all->can_trim && !c.can_trim) ||
      (all->can_zero && !c.can_zero) ||
      (all->can_fast_zero && !c.can_fast_zero) ||
      (all->can_cache && !c.can_cache) ||
      (all->can_extents && !c.can_extents) ||
      (c.blocks.min > all->blocks.min) ||
      (c.blocks.max && c.blocks.max < max_payload)) {
    nbdkit_error ("upstream connection %u reconnected to a server that can "
                  "do less than before: refusing it", i);
    return -1;
  }
  return 0;
}
