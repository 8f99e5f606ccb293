/* nbdkit-multicopy plugin: flushing, and what a flush must report. */

#ifndef MULTICOPY_FLUSH_H
#define MULTICOPY_FLUSH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct upstream;

/* Flush every upstream connection that may hold writes a client has
 * seen acknowledged, in parallel.  0, or -1 with nbdkit's error set;
 * a failure counts as a loss (below), since the upstream may have
 * dropped what it could not write.
 */
extern int flush_dirty (void);

/* .cleanup: flush what clients left unflushed, each connection on its
 * own; connections still flushing at deadline_ms (now_ms ()) are cut.
 * Logs which connections, and so which stripes, could not be flushed.
 */
extern void flush_at_exit (int64_t deadline_ms);

/* Connection u may have lost writes that a client saw acknowledged
 * and no flush covered: log it, and make the next flush of every
 * client connected now fail.
 */
extern void flush_writes_lost (struct upstream *u);

/* A client connection's view of losses: sampled when it connects;
 * after each of its flushes, whether there were losses since (each
 * reported once).
 */
extern unsigned flush_losses_sample (void);
extern bool flush_losses_since (atomic_uint *seen);

#endif /* MULTICOPY_FLUSH_H */
