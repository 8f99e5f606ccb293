/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: sending client requests to the owners of
 * their stripes.
 */

#ifndef MULTICOPY_ROUTE_H
#define MULTICOPY_ROUTE_H

#include <stdint.h>

#include "route-op.h"

struct nbdkit_extents;

/* Split at stripe boundaries and size limits, issue every piece on
 * its owner with the same libnbd flags, wait for all.  buf is NULL
 * for commands without payload.  0, or -1 with nbdkit's error set.
 */
extern int route_request (enum route_op op, void *buf, uint32_t count,
                          uint64_t offset, uint32_t lflags);

/* Block status from the owner of offset, clipped at the end of its
 * stripe: past it another connection owns the data.
 */
extern int route_extents (uint32_t count, uint64_t offset, uint32_t lflags,
                          struct nbdkit_extents *extents);

#endif /* MULTICOPY_ROUTE_H */
