/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy filter: which plugin is below.
 *
 * A filter is not told.  The plugin is the one loaded object that
 * exports plugin_init, nbdkit's entry point into every plugin; it
 * returns the plugin's struct (NBDKIT_REGISTER_PLUGIN only fills in
 * the struct's version fields again), whose name is the one it
 * registered.  So a renamed copy of the file plugin is still the file
 * plugin.
 */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <string.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "plugin-name.h"

struct found {
  char *name;
  size_t size;
};

static int
look_at (struct dl_phdr_info *info, size_t size, void *vp)
{
  struct found *f = vp;
  struct nbdkit_plugin *(*init) (void);
  struct nbdkit_plugin *p;
  void *dl;

  if (info->dlpi_name == NULL || info->dlpi_name[0] == '\0')
    return 0;                   /* nbdkit itself */
  dl = dlopen (info->dlpi_name, RTLD_LAZY | RTLD_NOLOAD);
  if (dl == NULL)
    return 0;
  /* dlsym also searches what the object depends on: only its own
   * definition counts.
   */
  init = (struct nbdkit_plugin *(*) (void)) dlsym (dl, "plugin_init");
  if (init) {
    Dl_info where;

    if (dladdr ((void *) init, &where) && where.dli_fname &&
        strcmp (where.dli_fname, info->dlpi_name) == 0 &&
        (p = init ()) != NULL && p->name != NULL)
      snprintf (f->name, f->size, "%s", p->name);
    else
      init = NULL;
  }
  dlclose (dl);
  return init != NULL;
}

void
plugin_name (char *name, size_t size)
{
  struct found f = { .name = name, .size = size };

  name[0] = '\0';
  dl_iterate_phdr (look_at, &f);
}
