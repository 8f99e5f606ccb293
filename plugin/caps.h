/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: what the upstream connections can do. */

#ifndef MULTICOPY_CAPS_H
#define MULTICOPY_CAPS_H

#include <stdbool.h>
#include <stdint.h>

#include <libnbd.h>

#include "block-size.h"

/* What every upstream connection can do (the AND over them all). */
struct upstream_caps {
  int64_t size;
  bool can_write, can_flush, can_fua, can_trim, can_zero, can_fast_zero;
  bool can_cache, can_extents, is_rotational, can_multi_conn;
  struct block_size blocks;
  char *description;
};

/* The answers of handle i of n, merged into all (i == 0 sets them).
 * Requests go to every connection, so the pool offers what all of
 * them can do.  -1 (reported) if the handle cannot say, or serves
 * another size.
 */
extern int caps_merge (unsigned i, struct nbd_handle *nbd,
                       struct upstream_caps *all);

/* Whether a new handle for connection i serves the same export with
 * everything that was advertised (all) and takes pieces of max_payload
 * bytes (0), or not (-1, reported).
 */
extern int caps_check_reconnected (unsigned i, struct nbd_handle *nbd,
                                   const struct upstream_caps *all,
                                   uint64_t max_payload);

#endif /* MULTICOPY_CAPS_H */
