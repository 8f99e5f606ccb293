/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: segment ownership (see stripe.h). */

#include <stdint.h>

#include "stripe.h"

int
stripe_map_init (struct stripe_map *map, uint64_t segment_size,
                 unsigned owners)
{
  unsigned shift = 0;

  if (owners == 0 || segment_size == 0 ||
      (segment_size & (segment_size - 1)) != 0)
    return -1;

  while ((UINT64_C (1) << shift) != segment_size)
    shift++;

  map->segment_size = segment_size;
  map->shift = shift;
  map->owners = owners;
  return 0;
}
