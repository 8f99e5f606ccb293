/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: the I/O thread of each upstream connection. */

#ifndef MULTICOPY_IO_THREAD_H
#define MULTICOPY_IO_THREAD_H

struct upstream;

/* Probe an idle connection this often: a server that is shutting down
 * answers NBD_ESHUTDOWN, and waits for its clients to leave.
 */
#define PROBE_INTERVAL_MS 2000

/* After NBD_ESHUTDOWN: how long commands in flight may take before we
 * disconnect anyway; after our NBD_CMD_DISC: how long the server may
 * take to close the connection before we cut it.
 */
#define DRAIN_TIMEOUT_MS      2000
#define DISCONNECT_TIMEOUT_MS 1000

/* u->kick_fd exists already, as every other connection's: a thread
 * may kick another as soon as it runs.
 */
extern int io_thread_start (struct upstream *u);

/* The caller has set u->stopping: wake the thread to disconnect (or
 * to stop reconnecting), and wait for it to end.
 */
extern void io_thread_stop (struct upstream *u);

/* Cut u's connection (shutdown(2) of its socket): libnbd then fails
 * every command in flight on it, and the thread sees the handle die.
 * Only if commands are in flight, for the _if_busy form.  why is
 * logged.
 */
extern void io_thread_cut (struct upstream *u, const char *why);
extern void io_thread_cut_if_busy (struct upstream *u, const char *why);

#endif /* MULTICOPY_IO_THREAD_H */
