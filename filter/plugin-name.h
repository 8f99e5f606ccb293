/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy filter: which plugin is below. */

#ifndef MULTICOPY_PLUGIN_NAME_H
#define MULTICOPY_PLUGIN_NAME_H

#include <stddef.h>

/* The name the plugin below registered itself with (its .name, as in
 * nbdkit --dump-plugin: "file", "nbd"), whatever its file is called;
 * "" if it cannot be found.
 */
extern void plugin_name (char *name, size_t size);

#endif /* MULTICOPY_PLUGIN_NAME_H */
