/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: block size constraints of several connections (or
 * contexts) that serve one export.
 */

#ifndef MULTICOPY_BLOCK_SIZE_H
#define MULTICOPY_BLOCK_SIZE_H

#include <stdint.h>

struct block_size {
  uint32_t min, pref, max;      /* 0: not advertised */
};

/* Requests go to every connection: what all of them accept is the
 * largest minimum and preferred size and the smallest maximum.
 */
static inline void
block_size_merge (struct block_size *all, const struct block_size *one)
{
  if (one->min > all->min)
    all->min = one->min;
  if (one->pref > all->pref)
    all->pref = one->pref;
  if (one->max && (all->max == 0 || one->max < all->max))
    all->max = one->max;
}

#endif /* MULTICOPY_BLOCK_SIZE_H */
