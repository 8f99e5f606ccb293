/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy filter: sending requests to the contexts that own
 * their stripes.
 */

#ifndef MULTICOPY_FILTER_ROUTE_H
#define MULTICOPY_FILTER_ROUTE_H

#include <stdint.h>

#include <nbdkit-filter.h>

#include "route-op.h"

/* Split at stripe boundaries (and the plugin's maximum block size) and
 * call each owner in turn with the same flags.  buf is NULL for
 * commands without payload.
 */
extern int route_request (enum route_op op, void *buf, uint32_t count,
                          uint64_t offset, uint32_t flags, int *err);

/* Extents from the owner of offset, clipped at the end of its stripe. */
extern int route_extents (uint32_t count, uint64_t offset, uint32_t flags,
                          struct nbdkit_extents *extents, int *err);

#endif /* MULTICOPY_FILTER_ROUTE_H */
