/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* The unit tests' one check: a failed condition is reported with its
 * place and a message, counted, and the test goes on.
 */

#ifndef MULTICOPY_UNIT_CHECK_H
#define MULTICOPY_UNIT_CHECK_H

#include <stdio.h>

static unsigned failures;

#define CHECK(cond, ...)                                        \
  do {                                                          \
    if (!(cond)) {                                              \
      fprintf (stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      fprintf (stderr, __VA_ARGS__);                            \
      fprintf (stderr, "\n");                                   \
      failures++;                                               \
    }                                                           \
  } while (0)

#endif /* MULTICOPY_UNIT_CHECK_H */
