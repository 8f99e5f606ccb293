/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: the answer to a block status request, for the
 * plugin and the filter alike.  Only the owner of the request's first
 * stripe is asked, and its answer is kept up to that stripe's end:
 * past it another connection owns the data, and writes in flight
 * there are not ordered with this answer.  nbdkit asks again for the
 * rest.
 */

#ifndef MULTICOPY_EXTENTS_H
#define MULTICOPY_EXTENTS_H

#include <stdint.h>

struct nbdkit_extents;

/* Add the extent of len bytes at offset, of type (NBDKIT_EXTENT_*,
 * the same bits as NBD_STATE_*), to out, cut at end.  Returns the
 * bytes added (0 if offset is at or past end), or -1 with errno set.
 */
extern int64_t extent_add_until (struct nbdkit_extents *out, uint64_t end,
                                 uint64_t offset, uint64_t len,
                                 uint32_t type);

#endif /* MULTICOPY_EXTENTS_H */
