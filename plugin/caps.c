/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: what one upstream connection says it can
 * do, in the terms of common/export-caps.h, which merges and checks.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libnbd.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "caps.h"

/* The libnbd answers are -1 on error; an error counts as "cannot". */
int
caps_read (const char *name, struct nbd_handle *nbd, struct export_caps *c)
{
  int64_t min, pref, max;

  c->size = nbd_get_size (nbd);
  min = nbd_get_block_size (nbd, LIBNBD_SIZE_MINIMUM);
  pref = nbd_get_block_size (nbd, LIBNBD_SIZE_PREFERRED);
  max = nbd_get_block_size (nbd, LIBNBD_SIZE_MAXIMUM);
  if (c->size == -1 || min == -1 || pref == -1 || max == -1) {
    nbdkit_error ("%s: %s", name, nbd_get_error ());
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
  c->can_fua = nbd_can_fua (nbd) == 1 ? NBDKIT_FUA_NATIVE : NBDKIT_FUA_NONE;
  c->can_trim = nbd_can_trim (nbd) == 1;
  c->can_zero = nbd_can_zero (nbd) == 1;
  c->can_fast_zero = nbd_can_fast_zero (nbd) == 1;
  c->can_cache =
    nbd_can_cache (nbd) == 1 ? NBDKIT_CACHE_NATIVE : NBDKIT_CACHE_NONE;
  c->can_extents =
    nbd_can_meta_context (nbd, LIBNBD_CONTEXT_BASE_ALLOCATION) == 1;
  c->is_rotational = nbd_is_rotational (nbd) == 1;
  return 0;
}
