/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
 */

/* nbdkit-multicopy plugin: writes lost before a flush covered them.
 * Which client connections are told, and when: client-losses.h.
 */

#ifndef MULTICOPY_LOSSES_H
#define MULTICOPY_LOSSES_H


struct upstream;

/* Connection u, at generation gen (its handle then), may have lost
 * writes that a client saw acknowledged and no flush covered: it was
 * lost, or left a server going away.  Log it, and make the next flush
 * of every client connected now fail.  One handle is lost once: only
 * the first call for a generation counts, whoever notices it first
 * (the I/O thread, the swap, a writer, a flush).
 */
extern void losses_on_connection (struct upstream *u, unsigned gen);

/* An upstream flush failed on connection u, whose server answered:
 * it may have dropped what it could not write, so a later flush could
 * succeed with nothing to write.  Every client connected now must
 * hear of it.
 */
extern void losses_on_flush (struct upstream *u);

/* The sequence of losses, which each client connection follows
 * (client-losses.h).
 */
extern struct errseq *losses_errseq (void);

#endif /* MULTICOPY_LOSSES_H */
