/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy filter: plugins that cannot serve contexts shared
 * by every client.
 */

#ifndef MULTICOPY_BELOW_H
#define MULTICOPY_BELOW_H

/* .config: note a key passed on to the plugin. */
extern void below_config (const char *key, const char *value);

/* .config_complete: -1, with an error that says why, if the plugin
 * below would pick what it serves by each client's export name.
 */
extern int below_check (void);

/* A context failed to open: say what may be the reason. */
extern void below_open_failed (unsigned i, unsigned nr);

#endif /* MULTICOPY_BELOW_H */
