/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: merging what the units serving one export can do. */

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>

/* Only the helpers of nbdkit-common.h are used here; the plugin and
 * the filter both link this file.
 */
#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "export-caps.h"

static int
weakest (int a, int b)
{
  return a < b ? a : b;
}

int
export_caps_merge (struct export_caps *all, const struct export_caps *one,
                   bool first, const char *name, const char *first_name)
{
  if (first) {
    *all = *one;
    return 0;
  }
  if (one->size != all->size) {
    nbdkit_error ("%s reports size %" PRIi64 ", %s reports %" PRIi64
                  ": they must serve one export",
                  name, one->size, first_name, all->size);
    return -1;
  }
  all->can_write = weakest (all->can_write, one->can_write);
  all->can_flush = weakest (all->can_flush, one->can_flush);
  all->can_fua = weakest (all->can_fua, one->can_fua);
  all->can_trim = weakest (all->can_trim, one->can_trim);
  all->can_zero = weakest (all->can_zero, one->can_zero);
  all->can_fast_zero = weakest (all->can_fast_zero, one->can_fast_zero);
  all->can_cache = weakest (all->can_cache, one->can_cache);
  all->can_extents = weakest (all->can_extents, one->can_extents);
  /* Rotational if any is: a client then keeps its requests in order. */
  all->is_rotational |= one->is_rotational;
  block_size_merge (&all->blocks, &one->blocks);
  return 0;
}

int
export_caps_still_cover (const struct export_caps *all,
                         const struct export_caps *one, uint64_t max_payload,
                         const char *name)
{
  if (one->size != all->size) {
    nbdkit_error ("%s came back with an export of size %" PRIi64
                  ", not %" PRIi64 ": refusing it",
                  name, one->size, all->size);
    return -1;
  }
  if (one->can_write < all->can_write || one->can_flush < all->can_flush ||
      one->can_fua < all->can_fua || one->can_trim < all->can_trim ||
      one->can_zero < all->can_zero ||
      one->can_fast_zero < all->can_fast_zero ||
      one->can_cache < all->can_cache ||
      one->can_extents < all->can_extents ||
      one->blocks.min > all->blocks.min ||
      (one->blocks.max && one->blocks.max < max_payload)) {
    nbdkit_error ("%s came back able to do less than before: "
                  "refusing it", name);
    return -1;
  }
  return 0;
}
