/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy: what the completion of one piece sent below is
 * told.  A piece kept in a replay log carries its tag in its entry (a
 * request may have more such pieces on one connection than it has
 * tags); any other piece shares its connection's tag in the request.
 */

#ifndef MULTICOPY_PIECE_TAG_H
#define MULTICOPY_PIECE_TAG_H

#include <stdbool.h>
#include <stdint.h>

struct replay_entry;

struct piece_tag {
  void *req;                    /* the request the piece is part of */
  struct replay_entry *logged;  /* its replay entry, or NULL */
  int64_t t0_us;                /* when it was issued if timed, else -1 */
  unsigned owner;               /* the connection it went on */
  bool held;                    /* holds a place under max-in-flight */
};

#endif /* MULTICOPY_PIECE_TAG_H */
