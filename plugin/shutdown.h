/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: knowing that nbdkit is shutting down, and
 * the two stages of an exit.
 *
 * Draining: nbdkit was told to quit and waits for the requests in
 * flight.  They get shutdown-timeout from the signal (the drain
 * deadline); then the I/O threads cut the connections that still
 * hold requests, after a flush of their own for those that hold
 * writes clients saw acknowledged (io-thread.c, flush.c).
 *
 * Cleaning: .cleanup runs, nothing else is in flight, and the flush
 * at exit gets shutdown-timeout of its own.
 */

#ifndef MULTICOPY_SHUTDOWN_H
#define MULTICOPY_SHUTDOWN_H

#include <stdbool.h>
#include <stdint.h>

/* .after_fork: start watching for nbdkit's quit signals.  -1 on
 * error (reported).
 */
extern int shutdown_watch_start (void);

/* .cleanup: nbdkit is shutting down now (if it had not said so
 * already), and the drain is over: the I/O threads cut nothing on
 * their own from here on.
 */
extern void shutdown_begin (void);

/* After the I/O threads have stopped. */
extern void shutdown_watch_end (void);

/* Whether nbdkit is shutting down: then nothing waits for a lost
 * connection to come back, nothing reconnects, and nothing waits for
 * room in flight.
 */
extern bool shutdown_requested (void);

/* Whether .cleanup has begun. */
extern bool shutdown_cleaning (void);

/* A file descriptor that becomes readable, and stays so, when nbdkit
 * is shutting down: for poll loops.  -1 before shutdown_watch_start.
 */
extern int shutdown_fd (void);

/* The drain deadline (now_ms ()): shutdown-timeout after the signal.
 * -1 before.
 */
extern int64_t shutdown_drain_deadline (void);

#endif /* MULTICOPY_SHUTDOWN_H */
