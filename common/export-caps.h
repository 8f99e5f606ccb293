/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: what one export can do when several connections
 * (the plugin) or contexts (the filter) serve it.  Written once, so
 * that both front ends offer the same thing from the same answers.
 */

#ifndef MULTICOPY_EXPORT_CAPS_H
#define MULTICOPY_EXPORT_CAPS_H

#include <stdbool.h>
#include <stdint.h>

#include "block-size.h"

/* In the values of nbdkit's callbacks: can_fua is NBDKIT_FUA_* and
 * can_cache NBDKIT_CACHE_*, both ordered from none to native, the rest
 * 0 or 1.  (The upstream's multi-conn is not here: each byte travels
 * on one connection, so the pool never needs it.)
 */
struct export_caps {
  int64_t size;
  int can_write, can_flush, can_fua, can_trim, can_zero, can_fast_zero;
  int can_cache, can_extents, is_rotational;
  struct block_size blocks;
};

/* Merge the answers of one unit (a connection, a context) into all;
 * the first sets them.  Requests go to every unit, so the export
 * offers what all of them can do: the weakest of each.  -1 (reported,
 * naming the unit and the first one) if it serves another size.
 */
extern int export_caps_merge (struct export_caps *all,
                              const struct export_caps *one, bool first,
                              const char *name, const char *first_name);

/* Whether a unit opened again (one) still does everything that was
 * advertised (all) and takes pieces of max_payload bytes.  -1
 * (reported) if not: clients rely on what they were told.
 */
extern int export_caps_still_cover (const struct export_caps *all,
                                    const struct export_caps *one,
                                    uint64_t max_payload, const char *name);

#endif /* MULTICOPY_EXPORT_CAPS_H */
