/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: the operations that plugin and filter route to
 * the owners of their stripes, and what each carries.
 */

#ifndef MULTICOPY_ROUTE_OP_H
#define MULTICOPY_ROUTE_OP_H

#include <stdbool.h>

enum route_op { ROUTE_READ, ROUTE_WRITE, ROUTE_ZERO, ROUTE_TRIM, ROUTE_CACHE };

/* Whether it changes data: the owner then holds writes that a flush
 * must cover.
 */
static inline bool
route_op_writes (enum route_op op)
{
  return op == ROUTE_WRITE || op == ROUTE_ZERO || op == ROUTE_TRIM;
}

/* Whether it carries data (a buffer), and so is split at the largest
 * payload as well as at stripe boundaries.
 */
static inline bool
route_op_has_payload (enum route_op op)
{
  return op == ROUTE_READ || op == ROUTE_WRITE;
}

#endif /* MULTICOPY_ROUTE_OP_H */
