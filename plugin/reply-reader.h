/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: the threads that read the replies of the
 * connections that are up, several connections each.
 */

#ifndef MULTICOPY_REPLY_READER_H
#define MULTICOPY_REPLY_READER_H

#include <stdbool.h>

struct upstream;

/* In .after_fork, before the I/O threads: as many as reply-threads=
 * says (config.h).
 */
extern int reply_readers_start (void);

/* Once every I/O thread has ended, before the handles are closed. */
extern void reply_readers_stop (void);

/* The I/O thread of u, which alone decides: whether u's reader reads
 * its replies from now on (steady: the connection is up and nothing
 * else is going on), or the I/O thread itself does.  Returns whether
 * the reader does.
 */
extern bool reply_reader_hand (struct upstream *u, bool steady);

#endif /* MULTICOPY_REPLY_READER_H */
