/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: knowing that nbdkit is shutting down, and
 * bounding what that waits for.
 */

#ifndef MULTICOPY_SHUTDOWN_H
#define MULTICOPY_SHUTDOWN_H

#include <stdbool.h>
#include <stdint.h>

/* .after_fork: start watching.  -1 on error (reported). */
extern int shutdown_watch_start (void);

/* .cleanup: nbdkit is shutting down now (if it had not said so
 * already); stop watching.
 */
extern void shutdown_begin (void);

/* After the I/O threads have stopped. */
extern void shutdown_watch_end (void);

/* Whether nbdkit is shutting down: then nothing waits for a lost
 * connection to come back, and nothing reconnects.
 */
extern bool shutdown_requested (void);

/* A file descriptor that becomes readable, and stays so, when nbdkit
 * is shutting down: for poll loops.  -1 before shutdown_watch_start.
 */
extern int shutdown_fd (void);

/* When connections with commands still in flight are to be cut
 * (now_ms ()): shutdown-timeout after the shutdown began.  -1 before.
 */
extern int64_t shutdown_cut_deadline (void);

/* Around a wait that the upstream may prolong without bound: a
 * request waiting for a reconnect or for a reply.  While any does,
 * SIGTERM is watched for; once it comes, waits for a reconnect end,
 * and connections with requests still in flight after shutdown-timeout
 * are cut (io-thread.c), so that nbdkit, which waits for every request
 * in flight before it exits, is not held up.
 */
extern void shutdown_wait_begin (void);
extern void shutdown_wait_end (void);

#endif /* MULTICOPY_SHUTDOWN_H */
