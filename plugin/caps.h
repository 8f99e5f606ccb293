/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: what an upstream connection can do. */

#ifndef MULTICOPY_CAPS_H
#define MULTICOPY_CAPS_H

#include <libnbd.h>

#include "export-caps.h"

/* The answers of one connected handle (name: how errors call it).
 * -1 (reported) if it cannot say.
 */
extern int caps_read (const char *name, struct nbd_handle *nbd,
                      struct export_caps *c);

#endif /* MULTICOPY_CAPS_H */
