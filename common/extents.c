/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: extents kept up to the end of the owner's stripe. */

#include <errno.h>
#include <stdint.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "extents.h"

int64_t
extent_add_until (struct nbdkit_extents *out, uint64_t end,
                  uint64_t offset, uint64_t len, uint32_t type)
{
  if (offset >= end)
    return 0;
  if (len > end - offset)
    len = end - offset;
  if (nbdkit_add_extent (out, offset, len, type) == -1)
    return -1;
  return len;
}
