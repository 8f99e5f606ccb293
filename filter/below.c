/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy filter: plugins that cannot serve contexts shared
 * by every client.
 *
 * The pool's contexts belong to no client connection, so in them
 * nbdkit_export_name () is NULL.  Plugins that choose what to serve by
 * the client's export name cannot work there, and in nbdkit 1.32 two
 * of them take the whole server down on the first client: the file
 * plugin with dir= crashes (it does not expect NULL), and the nbd
 * plugin with dynamic-export=true aborts on an assertion.  Those known
 * cases are refused before nbdkit serves anyone.  Plugins that fail
 * cleanly fail the client that opened the pool, with a message.
 *
 * The plugin is known by the name it registered (plugin-name.c), not
 * by its file name.
 */

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <nbdkit-filter.h>

#include "log.h"
#include "below.h"
#include "plugin-name.h"

static bool dir_given, dynamic_export;
static const char *dir_key;

void
below_config (const char *key, const char *value)
{
  if (strcmp (key, "dir") == 0 || strcmp (key, "directory") == 0) {
    dir_given = true;
    dir_key = key;
  }
  else if (strcmp (key, "dynamic-export") == 0)
    dynamic_export = nbdkit_parse_bool (value) == 1;
}

int
below_check (void)
{
  char plugin[64];

  plugin_name (plugin, sizeof plugin);

  if (strcmp (plugin, "file") == 0 && dir_given) {
    nbdkit_error ("multicopy: the file plugin with %s= serves the file "
                  "named by each client's export name, which the filter's "
                  "contexts, shared by all clients, never see: use file= "
                  "(one file), or no filter", dir_key);
    return -1;
  }
  if (strcmp (plugin, "ondemand") == 0) {
    nbdkit_error ("multicopy: the ondemand plugin serves the disk named by "
                  "each client's export name, which the filter's contexts, "
                  "shared by all clients, never see");
    return -1;
  }
  /* The nbd plugin asks for the export name in every .open, gets none
   * in our shared contexts, and says so with an error; it then serves
   * its export= as usual.  That noise cannot be avoided from here: say
   * once, now, where the operator reads nbdkit's log, what it means.
   */
  if (strcmp (plugin, "nbd") == 0 && !dynamic_export)
    multicopy_notice ("note: the nbd plugin logs \"error: no connection "
                      "in this thread\" once for each context this filter "
                      "opens; that is harmless (see "
                      "nbdkit-multicopy-filter(1), NOISE FROM THE NBD "
                      "PLUGIN)");
  /* dynamic-export is the nbd plugin's alone. */
  if (dynamic_export) {
    nbdkit_error ("multicopy: the nbd plugin with dynamic-export=true "
                  "passes on each client's export name, which the filter's "
                  "contexts, shared by all clients, never see: name the "
                  "export in uri= or export=");
    return -1;
  }
  return 0;
}

void
below_open_failed (unsigned i, unsigned nr)
{
  nbdkit_error ("multicopy: the plugin cannot open a context that every "
                "client shares (context %u, of %u); plugins that serve each "
                "client by its export name or address cannot be used below "
                "this filter (see nbdkit-multicopy-filter(1))", i, nr);
}
